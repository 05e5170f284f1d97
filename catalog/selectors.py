"""Every read query of the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db import connections, router
from django.db.models import Count, F, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Abs

from catalog.filters import SORTS, ProductFilters
from catalog.models import Category, Product
from catalog.pictures import StoredPicture
from shopsite.caching.keys import cache_key
from shopsite.caching.versioned import get_or_build

# A DISTINCT over every product's details is a full scan: staff can wait minutes for a new color.
PRODUCT_COLORS_TTL = 600
# Shared parts of anonymous pages; a catalog write bumps the namespace, so the TTL only bounds memory.
# They hold nothing a checkout changes (no stock levels): checkouts must not empty the cache.
CATALOG_TTL = 3600
FACET_VALUES_SHOWN = 30
NEWEST_ON_HOME = 8
RELATED_SHOWN = 4
# What a product card shows of its picture (catalog.fragments.product_picture): columns of the row.
PICTURE_COLUMNS = ("picture", "picture_width", "picture_height", "picture_alt")
# The columns the product list shows: all in the covering index product_listing.
LISTING_COLUMNS = ("id", "name", "slug", "price", "stock", *PICTURE_COLUMNS)


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    name: str
    slug: str
    facets: tuple[str, ...]


def category_ids_by_slug() -> dict[str, int]:
    """Return {slug: id} for every category, for validating imports."""
    return dict(Category.objects.values_list("slug", "id"))


def categories_with_counts() -> list[dict]:
    """Return every category with its number of active products, cached."""

    def build() -> list[dict]:
        categories = Category.objects.annotate(
            product_count=Count("products", filter=Q(products__is_active=True))
        ).values("name", "slug", "product_count")
        return list(categories.order_by("name"))

    return get_or_build("catalog", "categories", build=build, timeout=CATALOG_TTL)


def newest_products(*, limit: int = NEWEST_ON_HOME) -> list[dict]:
    """Return the newest active products with their category, cached."""

    def build() -> list[dict]:
        products = (
            Product.objects.active()
            .order_by("-created", "-id")
            .values("name", "slug", "price", "category__name", *PICTURE_COLUMNS)[:limit]
        )
        return list(products)

    return get_or_build("catalog", "newest", limit, build=build, timeout=CATALOG_TTL)


class _NoSuchCategory(Exception):
    """Raised out of a cache build so that nothing is cached: random slugs must not fill Redis."""


def category_by_slug(slug: str) -> CategoryInfo | None:
    """Return a category's name and facets, cached; None for an unknown slug."""

    def build() -> CategoryInfo:
        row = Category.objects.filter(slug=slug).values_list("id", "name", "slug", "facets").first()
        if row is None:
            raise _NoSuchCategory(slug)
        return CategoryInfo(row[0], row[1], row[2], tuple(row[3]))

    try:
        return get_or_build("catalog", "category", slug, build=build, timeout=CATALOG_TTL)
    except _NoSuchCategory:
        return None


def _filtered(category: CategoryInfo, filters: ProductFilters) -> QuerySet[Product]:
    """Return the category's active products matching the filters (no ordering, no columns)."""
    products = Product.objects.active().filter(category_id=category.id)
    if filters.price_min is not None:
        products = products.filter(price__gte=filters.price_min)
    if filters.price_max is not None:
        products = products.filter(price__lte=filters.price_max)
    for facet, values in filters.attributes.items():
        # details @> '{"color": "red"}': served by the GIN index product_details_gin.
        any_value = Q()
        for value in values:
            any_value |= Q(details__contains={facet: value})
            if _is_number(value):  # imported details may hold 42 as well as "42"
                any_value |= Q(details__contains={facet: _number(value)})
        products = products.filter(any_value)
    return products


def products_for_listing(*, category: CategoryInfo, filters: ProductFilters) -> QuerySet[Product]:
    """Return the products of a category page, sorted, with only the columns the list shows."""
    return _filtered(category, filters).only(*LISTING_COLUMNS).order_by(*SORTS[filters.sort])


@dataclass(frozen=True)
class ListingSummary:
    """What a category page shows about all the products matching its filters, not one page."""

    count: int
    facets: dict[str, list[tuple[str, int]]]


def listing_summary(*, category: CategoryInfo, filters: ProductFilters) -> ListingSummary:
    """Return how many products match the filters and the facet counts, cached per category and
    filters: a warm category page then runs one query, its page of products. Nothing in it
    changes with stock, so checkouts leave it cached."""

    def build() -> ListingSummary:
        return ListingSummary(_filtered(category, filters).count(), _facet_counts(category, filters))

    return get_or_build(
        "catalog", "listing", category.id, *filters.cache_parts(), build=build, timeout=CATALOG_TTL
    )


def _facet_counts(category: CategoryInfo, filters: ProductFilters) -> dict[str, list[tuple[str, int]]]:
    """Return, for each facet of the category, its values and how many products each would show.

    A facet's counts apply every filter but its own (choosing red next to blue adds products),
    so each facet is a branch of one UNION ALL query.
    """
    if not category.facets:
        return {}
    branches = [
        _filtered(category, filters.without(facet))
        .annotate(facet=Value(facet), value=KeyTextTransform(facet, "details"))
        .filter(value__isnull=False)
        .values("facet", "value")
        .annotate(n=Count("id"))
        .order_by()
        for facet in category.facets
    ]
    counts: dict[str, list[tuple[str, int]]] = {facet: [] for facet in category.facets}
    for row in branches[0].union(*branches[1:], all=True):
        counts[row["facet"]].append((row["value"], row["n"]))
    for values in counts.values():
        values.sort(key=lambda pair: (-pair[1], pair[0]))
        del values[FACET_VALUES_SHOWN:]
    return counts


class _NoSuchProduct(Exception):
    """Raised out of a cache build so that nothing is cached for an unknown or inactive slug."""


@dataclass(frozen=True)
class ProductPage:
    product: Product  # with its category
    related: list[dict]


def product_page(slug: str) -> ProductPage | None:
    """Return an active product with its category and related products for its page; None if
    there is none.

    All but the stock is cached until a catalog write (admin saves and imports bump the
    namespace), one Redis round trip: a warm page then runs one small query, the stock, which
    checkouts change without a bump. A product gone or deactivated since is None at once.
    """
    built = []

    def build() -> ProductPage:
        product = (
            Product.objects.active()
            .select_related("category")
            .only(
                "id",
                "sku",
                "slug",
                "name",
                "price",
                "stock",
                "details",
                "category__id",
                "category__name",
                "category__slug",
                *PICTURE_COLUMNS,
            )
            .filter(slug=slug)
            .first()
        )
        if product is None:
            raise _NoSuchProduct(slug)
        built.append(product)
        return ProductPage(product, related_products(product=product))

    try:
        page = get_or_build("catalog", "product-page", slug, build=build, timeout=CATALOG_TTL)
    except _NoSuchProduct:
        return None
    if not built:  # from the cache: its stock is as old as the entry
        stock = _stock_now(page.product.pk)
        if stock is None:
            return None
        page.product.stock = stock
    return page


def _stock_now(product_id: int) -> int | None:
    """Return an active product's stock, None if it is gone or inactive.

    Plain SQL, read where the router says: the ORM takes longer to build this one-row query than
    PostgreSQL takes to answer it (0.5 ms against 0.2 here), and every product page the page
    cache misses runs it.
    """
    with connections[router.db_for_read(Product)].cursor() as cursor:
        cursor.execute("SELECT stock FROM catalog_product WHERE id = %s AND is_active", [product_id])
        row = cursor.fetchone()
    return None if row is None else row[0]


def related_products(*, product: Product, limit: int = RELATED_SHOWN) -> list[dict]:
    """Return active products of the same category closest in price."""
    related = (
        Product.objects.active()
        .filter(category_id=product.category_id)
        .exclude(pk=product.pk)
        .order_by(Abs(F("price") - product.price), "id")
        .values("name", "slug", "price", *PICTURE_COLUMNS)[:limit]
    )
    return list(related)


def pictures_stored() -> list[StoredPicture]:
    """Return each picture products show, once, with its size."""
    rows = (
        Product.objects.exclude(picture="")
        .values_list("picture", "picture_width", "picture_height")
        .order_by("picture")
        .distinct()
    )
    return [StoredPicture(name, width, height) for name, width, height in rows]


def product_colors(*, limit: int) -> list[str]:
    """Return the distinct `details.color` values of the products, sorted, cached for a while."""

    def distinct_colors() -> list[str]:
        colors = (
            Product.objects.annotate(color=KeyTextTransform("color", "details"))
            .filter(color__isnull=False)
            .order_by("color")
            .values_list("color", flat=True)
            .distinct()[:limit]
        )
        return list(colors)

    key = cache_key("catalog", "product-colors", limit)
    return cache.get_or_set(key, distinct_colors, PRODUCT_COLORS_TTL)


def _is_number(value: str) -> bool:
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return value.strip().lstrip("-").replace(".", "", 1).isdigit()


def _number(value: str) -> int | float:
    return int(value) if value.lstrip("-").isdigit() else float(value)
