import json
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from catalog.admin import COLOR_CHOICES_LIMIT, DETAILS_NOT_OBJECT, ColorFilter
from catalog.models import Category, Product
from shopsite.caching.versioned import namespace_version
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

COLORS = ["red", "blue", "green"]


@pytest.fixture(autouse=True)
def _cold_content_type_cache():
    """Empty the per-process content type cache, so query counts do not depend on test order."""
    ContentType.objects.clear_cache()


def _make_products(n: int, *, categories: int = 3) -> list[Product]:
    """Create n products spread over a few categories and colors."""
    shelves = CategoryFactory.create_batch(categories)
    return [
        ProductFactory(category=shelves[i % categories], details={"color": COLORS[i % 3], "size": "M"})
        for i in range(n)
    ]


def _product_form_data(product: Product, **changes) -> dict:
    """Return what the product change form posts when staff save it unchanged, with `changes`."""
    data = {
        "sku": product.sku,
        "name": product.name,
        "slug": product.slug,
        "category": product.category_id,
        "price": str(product.price),
        "stock": product.stock,
        "is_active": "on" if product.is_active else "",
        "details": '{"color": "red"}',
        "created_0": product.created.strftime("%Y-%m-%d"),
        "created_1": product.created.strftime("%H:%M:%S"),
    }
    return data | changes


# --- Category -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 30])
def test_category_changelist_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    for category in CategoryFactory.create_batch(n):
        ProductFactory.create_batch(2, category=category)

    # user, filtered count, full count, page of categories with their product counts (one GROUP BY)
    with django_assert_num_queries(4):
        response = admin_client.get(reverse("admin:catalog_category_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == n


def test_category_changelist_shows_each_categorys_product_count(admin_client):
    busy, empty = CategoryFactory(name="Busy"), CategoryFactory(name="Empty")
    ProductFactory.create_batch(4, category=busy)

    response = admin_client.get(reverse("admin:catalog_category_changelist"))

    counts = {category.name: category.product_count for category in response.context["cl"].result_list}
    assert counts == {"Busy": 4, "Empty": 0}
    assert empty.products.count() == 0


def _category_form(category, facets: list[dict]) -> dict:
    """Return the change form's POST of a category with its facets inline (new rows only)."""
    data = {
        "name": category.name,
        "slug": category.slug,
        "facets-TOTAL_FORMS": str(len(facets)),
        "facets-INITIAL_FORMS": "0",
        "facets-MIN_NUM_FORMS": "0",
        "facets-MAX_NUM_FORMS": "1000",
    }
    for n, facet in enumerate(facets):
        fields = {"label": facet["key"].capitalize(), "unit": "", "kind": "choice", "position": str(n)}
        fields.update(facet)
        data.update({f"facets-{n}-{name}": value for name, value in fields.items()})
    return data


def _facet_errors(response) -> list[str]:
    formset = response.context["inline_admin_formsets"][0].formset
    return [error for form in formset.forms for errors in form.errors.values() for error in errors] + list(
        formset.non_form_errors()
    )


def _keys(category) -> list[tuple[str, str]]:
    return list(category.facets.values_list("key", "kind"))


@pytest.mark.parametrize(
    ("facet", "error"),
    [
        ({"key": "screen size"}, "A facet's key is a simple key of letters, digits and underscores."),
        ({"key": "price_min"}, "price_min is a name the catalog pages use already; choose another key."),
        ({"key": "color_gb", "kind": "range"}, "A range needs an index on its key: one of weight_g, ram_gb"),
    ],
)
def test_category_facets_the_pages_could_not_read_are_rejected(admin_client, facet, error):
    category = CategoryFactory(facets=[])

    response = admin_client.post(
        reverse("admin:catalog_category_change", args=[category.pk]), _category_form(category, [facet])
    )

    assert response.status_code == 200
    assert any(message.startswith(error) for message in _facet_errors(response)), _facet_errors(response)
    assert _keys(category) == []


def test_two_facets_reading_one_query_string_name_are_rejected(admin_client):
    category = CategoryFactory(facets=[])
    clash = [{"key": "ram_gb", "kind": "range"}, {"key": "ram_gb_min"}]

    response = admin_client.post(
        reverse("admin:catalog_category_change", args=[category.pk]), _category_form(category, clash)
    )

    assert response.status_code == 200
    assert "The facets ram_gb and ram_gb_min would both read ram_gb_min from the address." in _facet_errors(
        response
    )


def test_category_facets_of_simple_keys_save_and_bump_the_catalog(
    admin_client, django_capture_on_commit_callbacks
):
    category = CategoryFactory(facets=[])
    facets = [{"key": "color"}, {"key": "ram_gb", "label": "RAM", "unit": "GB", "kind": "range"}]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            reverse("admin:catalog_category_change", args=[category.pk]), _category_form(category, facets)
        )

    assert response.status_code == 302
    assert _keys(category) == [("color", "choice"), ("ram_gb", "range")]
    assert category.facets.get(key="ram_gb").unit == "GB"
    assert callbacks  # the cached category pages move to a new version once it commits


def test_category_slug_in_capitals_is_a_form_error_not_a_database_error(admin_client):
    response = admin_client.post(
        reverse("admin:catalog_category_add"),
        {
            "name": "Shoes",
            "slug": "Shoes",
            "facets-TOTAL_FORMS": "0",
            "facets-INITIAL_FORMS": "0",
            "facets-MIN_NUM_FORMS": "0",
            "facets-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slug"] == [
        "Use lowercase letters, digits and hyphens only."
    ]
    assert not Category.objects.filter(name="Shoes").exists()


# --- Product list ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 30])
def test_product_changelist_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    _make_products(n)

    # user, filtered count, page of products joined to their categories,
    # categories for the category filter, distinct colors for the color filter
    with django_assert_num_queries(5):
        response = admin_client.get(reverse("admin:catalog_product_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == n


@pytest.mark.parametrize("n", [3, 30])
def test_product_changelist_filtered_by_color_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    products = _make_products(n)

    # user, filtered count, page of red products joined to their categories,
    # categories for the category filter, distinct colors for the color filter
    with django_assert_num_queries(5) as captured:
        response = admin_client.get(reverse("admin:catalog_product_changelist"), {"color": "red"})

    assert response.status_code == 200
    shown = {product.pk for product in response.context["cl"].result_list}
    assert shown == {product.pk for product in products if product.details["color"] == "red"}
    # Containment is what the GIN index on details serves (the count and the page); ->> would scan.
    containment = [q for q in captured.captured_queries if '"catalog_product"."details" @>' in q["sql"]]
    assert len(containment) == 2


def test_product_color_filter_offers_each_color_once_in_order(admin_client):
    _make_products(9)
    ProductFactory(details={"size": "L"})  # no color: not offered as a choice

    response = admin_client.get(reverse("admin:catalog_product_changelist"))

    color_filter = next(f for f in response.context["cl"].filter_specs if isinstance(f, ColorFilter))
    assert color_filter.lookup_choices == [("blue", "blue"), ("green", "green"), ("red", "red")]


def test_product_color_filter_offers_a_limited_number_of_colors(admin_client):
    category = CategoryFactory()
    for i in range(COLOR_CHOICES_LIMIT + 5):
        ProductFactory(category=category, details={"color": f"shade-{i:03d}"})

    response = admin_client.get(reverse("admin:catalog_product_changelist"))

    color_filter = next(f for f in response.context["cl"].filter_specs if isinstance(f, ColorFilter))
    assert len(color_filter.lookup_choices) == COLOR_CHOICES_LIMIT


@pytest.mark.parametrize("n", [3, 30])
def test_product_changelist_search_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    products = _make_products(n)
    wanted = products[1]

    # user, filtered count, page of matches joined to their categories,
    # categories for the category filter, distinct colors for the color filter
    with django_assert_num_queries(5):
        response = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": wanted.sku.lower()})

    assert response.status_code == 200
    assert [product.pk for product in response.context["cl"].result_list] == [wanted.pk]


def test_product_search_finds_products_by_part_of_the_name(admin_client):
    kettle = ProductFactory(name="Copper kettle")
    ProductFactory(name="Tea cup")

    response = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": "kett"})

    assert [product.pk for product in response.context["cl"].result_list] == [kettle.pk]


def test_product_search_by_sku_is_exact_not_partial(admin_client):
    ProductFactory(sku="ABC-100", name="Lamp")

    response = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": "ABC-1"})

    assert list(response.context["cl"].result_list) == []


# --- Product change page and its JSON details -----------------------------------------------


@pytest.mark.parametrize("n", [3, 30])
def test_product_change_page_queries_do_not_grow(admin_client, django_assert_num_queries, n):
    product = _make_products(n, categories=n)[0]

    # user, the product, its content type (history link), every category for the category select
    with django_assert_num_queries(4):
        response = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk]))

    assert response.status_code == 200
    assert "&quot;color&quot;: &quot;red&quot;" in response.content.decode()


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ('{"color": "red"', "Enter a valid JSON."),
        ('["red", "blue"]', DETAILS_NOT_OBJECT),
        ('"red"', DETAILS_NOT_OBJECT),
        ("42", DETAILS_NOT_OBJECT),
        ("null", DETAILS_NOT_OBJECT),
    ],
)
def test_product_details_that_are_not_a_json_object_are_rejected(admin_client, typed, error):
    product = ProductFactory(details={"color": "blue"}, name="Lamp")

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form_data(product, details=typed, name="Renamed lamp"),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["details"] == [error]
    product.refresh_from_db()
    assert product.details == {"color": "blue"}
    assert product.name == "Lamp"


def test_product_details_that_are_not_json_are_shown_back_as_typed(admin_client):
    product = ProductFactory()

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form_data(product, details='{"color": red}'),
    )

    assert response.context["adminform"].form["details"].value() == '{"color": red}'


def test_product_details_json_object_saves(admin_client):
    product = ProductFactory(details={"color": "blue"})

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form_data(product, details='{"color": "green", "specs": {"watts": 60}}', price="12.50"),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.details == {"color": "green", "specs": {"watts": 60}}
    assert product.price == Decimal("12.50")


def test_product_details_left_empty_save_as_an_empty_object(admin_client):
    product = ProductFactory(details={"color": "blue"})

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]), _product_form_data(product, details="")
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.details == {}


def test_saving_or_deleting_in_admin_moves_the_storefront_cache_to_a_new_version(
    admin_client, django_capture_on_commit_callbacks
):
    product = ProductFactory()
    before = namespace_version("catalog")
    url = reverse("admin:catalog_product_change", args=[product.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, _product_form_data(product, name="Renamed"))
    after_save = namespace_version("catalog")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:catalog_category_delete", args=[CategoryFactory().pk]), {"post": "yes"}
        )

    assert response.status_code == 302
    assert after_save == before + 1
    assert namespace_version("catalog") == before + 2


# --- Details the database or Python cannot hold: a form error, the same rules as the import ----------


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ('{"weight": NaN}', "NaN is not a JSON number."),
        ('{"weight": Infinity}', "Infinity is not a JSON number."),
        ('{"weight": 1e400}', "The number 1e400 is out of range of double precision"),
        ('{"ean": ' + "9" * 5000 + "}", "A whole number of more than 4,300 digits is out of range"),
        ('{"color": "\\ud800"}', "Details must not contain lone surrogates such as \\ud800."),
        ('{"color": "r\\u0000ed"}', "Details must not contain NUL characters."),
        ('{"a": ' * 9 + "1" + "}" * 9, "Details are nested deeper than 8 levels."),
        ("[" * 5000 + "]" * 5000, "Details are nested deeper than 8 levels."),
        ('{"notes": "' + "x" * 70_000 + '"}', "Details larger than 64 KB."),
    ],
    ids=["nan", "infinity", "1e400", "5000-digits", "surrogate", "nul", "9-levels", "5000-levels", "70-kb"],
)
def test_product_details_the_database_cannot_hold_are_a_form_error_shown_as_typed(admin_client, typed, error):
    product = ProductFactory(details={"color": "blue"}, name="Lamp")

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]),
        _product_form_data(product, details=typed, name="Renamed lamp"),
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert len(form.errors["details"]) == 1
    assert form.errors["details"][0].startswith(error)
    assert form["details"].value() == typed
    product.refresh_from_db()
    assert (product.details, product.name) == ({"color": "blue"}, "Lamp")


def test_product_details_nested_8_levels_save(admin_client):
    product = ProductFactory()
    typed = '{"a": ' * 7 + '["deep"]' + "}" * 7

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[product.pk]), _product_form_data(product, details=typed)
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.details == json.loads(typed)
