"""The catalog pages: content, filters, bad input, and a query budget that does not grow."""

from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from catalog.models import Product
from catalog.templatetags.shop import detail_rows
from shopsite.caching.versioned import namespace_bump
from tests.factories import CategoryFactory, ProductFactory
from tests.redis_commands import redis_commands

pytestmark = pytest.mark.django_db

COLORS = ["red", "blue", "green"]


@pytest.fixture
def shirts():
    return CategoryFactory(name="Shirts", slug="shirts", facets=["color", "size"])


def _stock_shirts(category, n: int) -> None:
    for i in range(n):
        ProductFactory(
            category=category,
            name=f"Shirt {i:03d}",
            price=Decimal(10 + i),
            stock=i % 4,
            details={"color": COLORS[i % 3], "size": "M" if i % 2 else "L", "brand": "Acme"},
        )


def _category_url(**query) -> str:
    url = reverse("catalog:category", args=["shirts"])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


# --- Query budgets -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 60])
def test_category_page_queries_do_not_grow(client, shirts, django_assert_num_queries, n):
    _stock_shirts(shirts, n)

    # category (then cached), page count, the page of products, facet counts (one UNION ALL)
    with django_assert_num_queries(4):
        response = client.get(_category_url(color="red", sort="-price"))
    assert response.status_code == 200

    # warm: the category, the count and the facet counts come from Redis; the page is live
    with django_assert_num_queries(1):
        assert client.get(_category_url(color="red", sort="-price")).status_code == 200


def test_the_cached_count_follows_a_catalog_write(client, shirts):
    _stock_shirts(shirts, 30)
    assert client.get(_category_url()).context["page"].paginator.count == 30

    ProductFactory(category=shirts, name="One more shirt")
    namespace_bump("catalog")  # what admin saves and imports do once they commit
    page = client.get(_category_url(page=2)).context["page"]

    assert page.paginator.count == 31
    assert page.paginator.num_pages == 2
    assert len(page) == 7


@pytest.mark.parametrize("n", [5, 60])
def test_home_queries_do_not_grow(client, shirts, django_assert_num_queries, n):
    _stock_shirts(shirts, n)

    # categories with counts, newest products; both cached afterwards
    with django_assert_num_queries(2):
        assert client.get(reverse("catalog:home")).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(reverse("catalog:home")).status_code == 200


@pytest.mark.parametrize("n", [5, 60])
def test_product_page_queries_do_not_grow(client, shirts, django_assert_num_queries, n):
    _stock_shirts(shirts, n)
    product = ProductFactory(category=shirts, details={"color": "red", "specs": {"ram_gb": 16, "wifi": True}})

    # the product with its category, related products (then cached)
    with django_assert_num_queries(2):
        response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    with django_assert_num_queries(1):
        assert client.get(product.get_absolute_url()).status_code == 200


def test_a_product_page_shows_its_stock_now_and_the_rest_as_of_the_last_catalog_write(client, shirts):
    product = ProductFactory(category=shirts, name="Oxford shirt", stock=9)
    client.get(product.get_absolute_url())  # its page's catalog part is cached now
    Product.objects.filter(pk=product.pk).update(stock=2, name="Renamed shirt")  # no bump

    before_the_bump = client.get(product.get_absolute_url()).content.decode()
    namespace_bump("catalog")
    after_the_bump = client.get(product.get_absolute_url()).content.decode()

    assert "Only 2 left" in before_the_bump  # checkouts change stock without a bump: read each time
    assert "Oxford shirt" in before_the_bump
    assert "Renamed shirt" in after_the_bump


@pytest.mark.parametrize("change", [{"is_active": False}, None])
def test_a_product_deactivated_or_deleted_without_a_bump_is_a_404_at_once(client, shirts, change):
    product = ProductFactory(category=shirts)
    assert client.get(product.get_absolute_url()).status_code == 200
    if change:
        Product.objects.filter(pk=product.pk).update(**change)
    else:
        Product.objects.filter(pk=product.pk).delete()

    assert client.get(product.get_absolute_url()).status_code == 404


def test_a_warm_page_takes_one_redis_round_trip_per_cached_part(client, shirts):
    _stock_shirts(shirts, 5)
    product = ProductFactory(category=shirts, details={"color": "red"})
    round_trips = {
        _category_url(color="red"): 2,  # the category, its facet counts
        reverse("catalog:home"): 2,  # categories with counts, newest products
        product.get_absolute_url(): 1,  # related products
    }
    for url, expected in round_trips.items():
        client.get(url)

        with redis_commands() as ran:
            assert client.get(url).status_code == 200

        assert ran == {"mget": expected}, url


# --- What the pages show -------------------------------------------------------------------


def test_home_lists_categories_with_active_product_counts_and_newest_products(client, shirts):
    _stock_shirts(shirts, 3)
    ProductFactory(category=shirts, is_active=False, name="Hidden shirt")

    page = client.get(reverse("catalog:home")).content.decode()

    assert "Shirts" in page
    assert "3 products" in page
    assert "Shirt 002" in page
    assert "Hidden shirt" not in page


def test_category_filters_by_attribute_values_with_or_within_a_facet(client, shirts):
    _stock_shirts(shirts, 12)

    response = client.get(_category_url(color="red") + "&color=blue&size=M")

    names = [product.name for product in response.context["page"]]
    # i % 3 in (0, 1) and i odd: 1, 3, 7, 9
    assert names == ["Shirt 001", "Shirt 003", "Shirt 007", "Shirt 009"]
    assert response.context["page"].paginator.count == 4


def test_facet_counts_apply_every_filter_but_their_own(client, shirts):
    _stock_shirts(shirts, 12)

    facets = client.get(_category_url(color="red")).context["facets"]

    # color counts ignore the color filter: 4 of each
    assert dict(facets["color"]) == {"red": 4, "blue": 4, "green": 4}
    # size counts apply color=red (i = 0, 3, 6, 9): sizes L, M, L, M
    assert dict(facets["size"]) == {"L": 2, "M": 2}
    assert "brand" not in facets  # not an allow-listed facet of this category


def test_category_price_range_and_sorts(client, shirts):
    _stock_shirts(shirts, 10)

    cheap_first = client.get(_category_url(price_min="12", price_max="15")).context["page"]
    dear_first = client.get(_category_url(price_min="12", price_max="15", sort="-price")).context["page"]
    by_name = client.get(_category_url(sort="name")).context["page"]

    assert [p.price for p in cheap_first] == [Decimal(12), Decimal(13), Decimal(14), Decimal(15)]
    assert [p.price for p in dear_first] == [Decimal(15), Decimal(14), Decimal(13), Decimal(12)]
    assert by_name[0].name == "Shirt 000"


def test_category_paginates_24_a_page(client, shirts):
    _stock_shirts(shirts, 30)

    first = client.get(_category_url())
    second = client.get(_category_url(page=2))

    assert len(first.context["page"]) == 24
    assert len(second.context["page"]) == 6
    assert "Page 1 of 2" in first.content.decode()


def test_inactive_products_are_not_listed_and_have_no_page(client, shirts):
    hidden = ProductFactory(category=shirts, is_active=False)

    assert client.get(_category_url()).context["page"].paginator.count == 0
    assert client.get(hidden.get_absolute_url()).status_code == 404


def test_active_filters_show_as_chips_that_remove_themselves(client, shirts):
    _stock_shirts(shirts, 3)

    page = client.get(_category_url(color="red", size="M")).content.decode()

    assert "Color: red" in page
    assert 'href="?size=M"' in page  # the red chip keeps size


def test_product_page_shows_details_table_stock_and_related(client, shirts):
    _stock_shirts(shirts, 3)
    product = ProductFactory(
        category=shirts, stock=2, details={"color": "red", "specs": {"ram_gb": 16, "wifi": True}}
    )

    response = client.get(product.get_absolute_url())
    page = response.content.decode()

    assert "Specs › Ram gb" in page
    assert "<td>Yes</td>" in page
    assert "Only 2 left" in page
    assert len(response.context["related"]) == 3
    assert 'name="quantity"' in page


# --- Bad input: a normal page with a message, a 400 or a 404, never a 500 ------------------


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("price_min=abc", 400),
        ("price_min=-5", 400),
        ("price_max=1e400", 400),
        ("price_min=20&price_max=10", 400),
        ("page=0", 400),
        ("page=99999999999999999999", 400),
        ("page=999", 404),
        ("sort=drop table", 400),
        ("color=" + "x" * 10_000, 400),
        ("color=%00", 400),
        ("unknown=1&details__color=red&_connector=OR", 200),
        ("sort=price&sort=-price", 200),
    ],
)
def test_bad_query_strings_get_a_clear_answer(client, shirts, query, status):
    _stock_shirts(shirts, 3)

    response = client.get(reverse("catalog:category", args=["shirts"]) + "?" + query)

    assert response.status_code == status


def test_unknown_keys_never_reach_the_query(client, shirts, django_assert_num_queries):
    _stock_shirts(shirts, 3)

    response = client.get(_category_url(brand="Nope", details__color="red"))

    # brand is in the details but not in this category's facets: ignored, all 3 shown
    assert response.context["page"].paginator.count == 3


def test_unknown_category_and_product_are_404(client):
    assert client.get(reverse("catalog:category", args=["nope"])).status_code == 404
    assert client.get(reverse("catalog:product", args=["nope"])).status_code == 404


def test_pages_refuse_post(client, shirts):
    assert client.post(reverse("catalog:home")).status_code == 405
    assert client.post(_category_url()).status_code == 405


# --- Details nested deeper than the import and the admin allow ------------------------------------


def test_details_table_shows_at_most_8_levels_of_a_value_nested_5000_deep():
    details = leaf = {}
    for _ in range(5_000):  # built in Python: deeper than any recursion over it could go
        leaf["specs"] = {}
        leaf = leaf["specs"]
    leaf["watts"] = 60

    rows = detail_rows({"color": "red", "tags": [["a", ["b"]], {"x": True}, None], **details})

    assert rows == [
        ("Color", "red"),
        ("Tags", "a, b, X: Yes"),
        (" › ".join(["Specs"] * 8), "…"),
    ]


def test_product_page_renders_details_nested_past_the_limit_by_sql(client, shirts):
    product = ProductFactory(category=shirts, details={})
    with connection.cursor() as cursor:  # around the import's and the admin's checks, as a script could
        cursor.execute(
            "UPDATE catalog_product SET details = %s::jsonb WHERE id = %s",
            ['{"color": "red", "specs": ' + '{"specs": ' * 600 + '"deep"' + "}" * 601, product.pk],
        )

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    page = response.content.decode()
    assert '<th scope="row">Color</th><td>red</td>' in page
    assert f'<th scope="row">{" › ".join(["Specs"] * 8)}</th><td>…</td>' in page
