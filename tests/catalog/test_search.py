"""The search: the header's box, full-text matches ranked, typos corrected, kept current by the database,
combined with the filters, paged, cached, and a clear page for any input."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils.text import slugify

from catalog.demo import CATEGORY_TEMPLATES
from catalog.filters import MAX_QUERY_LENGTH, SearchTerms
from catalog.models import Category, CategoryFacet, Product, SearchWord
from shopsite.caching.versioned import namespace_bump
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

RAM = ("ram_gb", "RAM", "GB", "range")


@pytest.fixture
def laptops():
    return CategoryFactory(name="Laptops", slug="laptops", facets=["brand", "color", RAM])


@pytest.fixture
def shirts():
    return CategoryFactory(name="Shirts", slug="shirts", facets=["color", "size"])


def _search(client, **query):
    return client.get(reverse("catalog:search"), query)


def _names(response) -> list[str]:
    return [product["name"] for product in response.context["page"]]


def _stock(laptops, shirts, n: int) -> None:
    for i in range(n):
        ProductFactory(
            category=laptops,
            name=f"Lumen Ultrabook {i:03d}",
            price=Decimal(500 + i),
            details={"brand": "Lumen", "color": ["black", "silver"][i % 2], "ram_gb": [8, 16, 32][i % 3]},
        )
        ProductFactory(category=shirts, name=f"Oxford shirt {i:03d}", details={"color": "red", "size": "M"})


# --- The box and the address -------------------------------------------------------------------


def test_every_storefront_page_has_the_search_box(client, laptops):
    product = ProductFactory(category=laptops)
    pages = ["/", f"/c/{laptops.slug}/", product.get_absolute_url(), "/search/?q=lumen", "/cart/"]

    for path in pages:
        page = client.get(path).content.decode()
        assert '<form class="site-search" role="search" method="get" action="/search/">' in page, path
        assert 'name="q"' in page, path


def test_a_search_in_the_home_pages_address_goes_to_the_search_page(client):
    response = client.get("/?q=laptop bag")

    assert response.status_code == 302
    assert response["Location"] == "/search/?q=laptop+bag"


def test_the_search_box_shows_what_was_searched(client, laptops):
    page = _search(client, q="ultrabook <b>").content.decode()

    assert 'value="ultrabook &lt;b&gt;"' in page


# --- What it finds ----------------------------------------------------------------------------


def test_two_letters_swapped_in_a_word_of_the_name_still_find_the_product(client, laptops, shirts):
    ProductFactory(category=laptops, name="Lumen Ultrabook in black")
    ProductFactory(category=shirts, name="Oxford shirt in red")

    response = _search(client, q="Ultarbook")  # "ra" swapped

    assert response.status_code == 200
    assert _names(response) == ["Lumen Ultrabook in black"]


def test_a_partial_word_finds_the_product(client, laptops, shirts):
    ProductFactory(category=laptops, name="Lumen Ultrabook in black")
    ProductFactory(category=shirts, name="Oxford shirt in red")

    assert _names(_search(client, q="ultrab")) == ["Lumen Ultrabook in black"]


def test_full_text_matches_rank_name_then_category_then_facet_values(client):
    lamps = CategoryFactory(name="Lamps", slug="lamps", facets=["color"])
    decor = CategoryFactory(name="Decor", slug="decor", facets=["style"])
    other = CategoryFactory(name="Tools", slug="tools", facets=["color"])
    ProductFactory(category=decor, name="Shade", details={"style": "lamp"})  # a facet value (C)
    ProductFactory(category=lamps, name="Reading light")  # its category (B)
    ProductFactory(category=other, name="Brass lamp")  # its name (A)
    ProductFactory(category=other, name="Lampshade holder")  # its name, the word a prefix (A)
    ProductFactory(category=other, name="Hammer", details={"style": "lamp"})  # not a facet of Tools

    names = _names(_search(client, q="lamp"))

    assert names == ["Brass lamp", "Lampshade holder", "Reading light", "Shade"]


def test_products_like_the_words_are_listed_only_when_nothing_has_every_word(client, laptops):
    ProductFactory(category=laptops, name="Lumen Ultrabook")
    ProductFactory(category=laptops, name="Lumen Notebook")

    exact = _search(client, q="notebook")
    fuzzy = _search(client, q="notebok")

    assert _names(exact) == ["Lumen Notebook"]  # not the ultrabook, though it looks like it
    assert _names(fuzzy) == ["Lumen Notebook"]
    assert "these are the products most like it" in fuzzy.content.decode()
    assert "most like it" not in exact.content.decode()


def test_every_word_must_match_in_full_text_and_quotes_or_and_minus_keep_their_meaning(
    client, laptops, shirts
):
    ProductFactory(category=laptops, name="Lumen Ultrabook in black", details={"color": "black"})
    ProductFactory(category=laptops, name="Vertex Notebook in grey", details={"color": "grey"})
    ProductFactory(category=shirts, name="Oxford shirt in black", details={"color": "black"})

    assert _names(_search(client, q="black laptops")) == ["Lumen Ultrabook in black"]
    assert set(_names(_search(client, q="ultrabook or notebook"))) == {
        "Lumen Ultrabook in black",
        "Vertex Notebook in grey",
    }
    assert _names(_search(client, q="black -laptops")) == ["Oxford shirt in black"]


def test_inactive_products_are_never_found(client, laptops):
    ProductFactory(category=laptops, name="Lumen Ultrabook", is_active=False)

    assert _search(client, q="ultrabook").context["page"].paginator.count == 0


# --- Kept current by the database ---------------------------------------------------------------


def test_the_search_columns_follow_every_write_that_changes_them(laptops):
    product = ProductFactory(category=laptops, name="Lumen Ultrabook", details={"brand": "Lumen"})

    def found(query: str) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT %s IN (SELECT id FROM catalog_product_matches(%s, %s))", [product.pk, query, query]
            )
            return cursor.fetchone()[0]

    assert found("ultrabook")
    assert found("laptops")
    assert found("lumen")
    Product.objects.filter(pk=product.pk).update(name="Vertex Workstation")
    assert found("workstation")
    assert not found("ultrabook")
    Category.objects.filter(pk=laptops.pk).update(name="Computers")  # a rename rewrites its products
    assert found("computers")
    assert not found("laptops")
    Product.objects.filter(pk=product.pk).update(details={"brand": "Quanta"})
    assert found("quanta")
    CategoryFacet.objects.create(category=laptops, key="cpu", label="CPU")
    Product.objects.filter(pk=product.pk).update(details={"brand": "Quanta", "cpu": "octacore"})
    assert found("octacore")
    CategoryFacet.objects.filter(category=laptops, key="cpu").delete()  # no longer a facet's value
    assert not found("octacore")


def test_the_word_list_follows_every_write_that_brings_a_new_word(laptops):
    def known(word: str) -> str | None:
        return SearchWord.objects.filter(word=word).values_list("lexeme", flat=True).first()

    ProductFactory(category=laptops, name="Lumen Ultrabooks in the black", details={"brand": "Quanta"})
    assert known("ultrabooks") == "ultrabook"  # with its lexeme, what full text finds
    assert known("laptops") == "laptop"  # the category's name
    assert known("quanta") == "quanta"  # a facet's value
    assert known("the") is None  # a stop word
    assert known("in") is None  # under four letters
    Category.objects.filter(pk=laptops.pk).update(name="Computers")
    assert known("computers") == "comput"
    CategoryFacet.objects.create(category=laptops, key="cpu", label="CPU")
    ProductFactory(category=laptops, name="Vertex", details={"cpu": "Octacore"})
    assert known("octacore") is not None


def test_two_letters_swapped_in_any_word_of_the_demo_catalog_find_its_products():
    """Every word of four letters or more in the demo shop's names, every two neighbouring letters
    swapped: the products with that word are found (unless what was typed finds products in
    full, as a word or the start of one: then those are what was asked for)."""
    names = []
    for category_name, _, brands, nouns, *_ in CATEGORY_TEMPLATES:
        category = CategoryFactory(name=category_name, slug=slugify(category_name), facets=[])
        for brand in brands:
            for noun in nouns:
                names.append(ProductFactory(category=category, name=f"{brand} {noun}").name)
    words = {word for name in names for word in re.findall(r"[a-z]+", name.lower()) if len(word) >= 4}
    typos = {
        word[:i] + word[i + 1] + word[i] + word[i + 2 :]: word
        for word in sorted(words)
        for i in range(len(word) - 1)
        if word[i] != word[i + 1]
    }

    found_in_full, missed = 0, []
    for typed, word in typos.items():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.name, m.exact FROM catalog_product_matches(%s, %s) AS m"
                " JOIN catalog_product AS p USING (id)",
                [typed, typed],
            )
            rows = cursor.fetchall()
        if any(exact for _, exact in rows):
            found_in_full += 1
        elif not any(word in re.findall(r"[a-z]+", name.lower()) for name, _ in rows):
            missed.append((typed, word))

    assert missed == []
    assert found_in_full < len(typos) / 10, found_in_full  # the rest were corrected: many checked
    assert len(typos) > 300


def test_a_numeric_facet_value_is_searchable_with_its_unit(client, laptops):
    ProductFactory(category=laptops, name="Lumen Ultrabook", details={"ram_gb": 32})
    ProductFactory(category=laptops, name="Lumen Notebook", details={"ram_gb": 16})

    assert _names(_search(client, q="32 GB laptop")) == ["Lumen Ultrabook"]


# --- With the filters, paged, within its budget ------------------------------------------------


def test_results_combine_with_a_category_its_facets_a_range_and_prices(client, laptops, shirts):
    _stock(laptops, shirts, 12)

    everywhere = _search(client, q="lumen")
    in_laptops = _search(
        client, q="lumen", category="laptops", color="black", ram_gb_min="16", price_max="509"
    )

    assert everywhere.context["summary"].categories == [("laptops", "Laptops", 12)]
    page = in_laptops.content.decode()
    assert in_laptops.status_code == 200
    # black: 0, 2, 4, 6, 8; 16 GB or more: 1, 2, 4, 5, 7, 8; up to $509: 0-9
    assert _names(in_laptops) == ["Lumen Ultrabook 002", "Lumen Ultrabook 004", "Lumen Ultrabook 008"]
    assert dict(in_laptops.context["facets"]["color"]) == {"black": 3, "silver": 3}
    assert 'name="q" value="lumen"' in page
    assert "RAM: from 16 GB" in page


def test_the_search_pages_24_results_a_page(client, laptops, shirts):
    _stock(laptops, shirts, 30)

    first = _search(client, q="ultrabook")
    second = _search(client, q="ultrabook", page=2)

    assert first.context["page"].paginator.count == 30
    assert len(first.context["page"]) == 24
    assert len(second.context["page"]) == 6
    assert _search(client, q="ultrabook", page=3).status_code == 404


@pytest.mark.parametrize("n", [4, 40])
def test_search_queries_do_not_grow(client, laptops, shirts, django_assert_num_queries, n):
    _stock(laptops, shirts, n)

    # the category (then cached), the summary (count, categories, facet counts: one UNION ALL over
    # the matches found once), the page of results
    with django_assert_num_queries(3):
        assert _search(client, q="lumen ultrabook", category="laptops", color="black").status_code == 200
    # warm: the category and the summary come from Redis; the page is live
    with django_assert_num_queries(1):
        assert _search(client, q="lumen ultrabook", category="laptops", color="black").status_code == 200
    # without a category: the summary and the page
    with django_assert_num_queries(2):
        assert _search(client, q="oxford shirt", price_min="1").status_code == 200
    # a typo: the same two, the words corrected inside each
    with django_assert_num_queries(2):
        response = _search(client, q="lumen ultarbook")
    assert response.context["page"].paginator.count == n


def test_a_cached_summary_follows_a_catalog_write(client, laptops):
    ProductFactory(category=laptops, name="Lumen Ultrabook")
    assert _search(client, q="ultrabook").context["page"].paginator.count == 1

    ProductFactory(category=laptops, name="Vertex Ultrabook")
    namespace_bump("catalog")  # what admin saves and imports do once they commit

    assert _search(client, q="ultrabook").context["page"].paginator.count == 2


# --- Any input: a clear page ---------------------------------------------------------------------


def test_an_empty_search_asks_for_words_and_reads_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = _search(client, q="   ")

    assert response.status_code == 200
    assert "Type what you are looking for" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"q": "a"}, "Type at least 2 characters to search."),
        ({"q": "x" * 10_000}, f"Search for at most {MAX_QUERY_LENGTH} characters."),
        ({"q": "shirt\x00"}, "Null characters are not allowed."),
        (
            {"q": "shirt", "category": "no-such-category"},
            "There is no such category: showing every category.",
        ),
        ({"q": "shirt", "category": "Not a slug!"}, "Enter a valid “slug”"),
        ({"q": "shirt", "price_min": "abc"}, "Min price: Enter a number."),
    ],
)
def test_a_search_the_shop_cannot_run_is_a_400_that_says_why(client, shirts, query, message):
    ProductFactory(category=shirts, name="Oxford shirt")

    response = _search(client, **query)

    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "!!!",
        "-shirt",
        "shirt & | ! : * ( ) <-> '",
        "'; DROP TABLE catalog_product; --",
        "1) OR (1=1",
        "a:* & b:*",
        '"unclosed quote',
        "рубашка 🙂 シャツ",
        "\uff53\uff48\uff49\uff52\uff54",  # fullwidth
    ],
)
def test_hostile_searches_get_results_or_none_never_an_error(client, shirts, query):
    ProductFactory(category=shirts, name="Oxford shirt")

    response = _search(client, q=query)

    assert response.status_code == 200
    assert "Results for" in response.content.decode()
    assert Product.objects.count() == 1


def test_a_search_finding_nothing_says_so(client, shirts):
    ProductFactory(category=shirts, name="Oxford shirt")

    page = _search(client, q="zeppelin").content.decode()

    assert "No products match this search." in page


@pytest.mark.parametrize(
    ("typed", "text", "words"),
    [
        ("  Lumen   ultrabook ", "Lumen ultrabook", "Lumen ultrabook"),
        ('"red shirt" or -blue', '"red shirt" or -blue', None),
        ("red or blue", "red or blue", None),
        ("-laptop", "-laptop", None),
        ("shirt -blue", "shirt -blue", None),
        ("t-shirt", "t-shirt", "t shirt"),
        ("!!! <->", "!!! <->", None),
        ("ram_gb 16", "ram_gb 16", "ram gb 16"),
    ],
)
def test_search_terms_keep_the_text_for_full_text_and_the_words_for_correcting_typos(typed, text, words):
    assert SearchTerms.of(typed) == SearchTerms(text, words)
