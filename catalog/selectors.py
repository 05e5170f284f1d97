"""Every read query of the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.postgres.aggregates import JSONBAgg
from django.contrib.postgres.search import SearchQueryField
from django.core.cache import cache
from django.db import connections, router
from django.db.models import BooleanField, Count, F, FloatField, Func, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Abs, JSONObject
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from catalog.filters import SORTS, Facet, ProductFilters, SearchTerms
from catalog.models import NUMERIC_DETAILS, Category, CategoryFacet, Product, detail_number
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
    facets: tuple[Facet, ...] = ()


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


def _facet_rows(category_id) -> Subquery:
    """Return a subquery of a category's facets as one JSON array, in their order."""
    rows = (
        CategoryFacet.objects.filter(category_id=category_id)
        .values("category_id")
        .annotate(
            rows=JSONBAgg(
                JSONObject(key="key", label="label", unit="unit", kind="kind"), order_by=("position", "id")
            )
        )
        .values("rows")
    )
    return Subquery(rows)


def _numeric_bounds(category_id) -> dict[str, Subquery]:
    """Return subqueries of the lowest and highest value of each numeric detail among the
    category's active products: each reads one entry of its expression index."""
    bounds = {}
    for n, key in enumerate(NUMERIC_DETAILS):
        values = (
            Product.objects.active()
            .filter(category_id=category_id)
            .annotate(number=detail_number(key))
            .filter(number__isnull=False)
            .values("number")
        )
        bounds[f"low_{n}"] = Subquery(values.order_by("number")[:1])
        bounds[f"high_{n}"] = Subquery(values.order_by("-number")[:1])
    return bounds


def _facets(rows: list[dict] | None, bounds: dict) -> tuple[Facet, ...]:
    facets = []
    for row in rows or ():
        low = high = None
        if row["kind"] == "range" and row["key"] in NUMERIC_DETAILS:
            n = NUMERIC_DETAILS.index(row["key"])
            low, high = bounds.get(f"low_{n}"), bounds.get(f"high_{n}")
        facets.append(Facet(row["key"], row["label"], row["unit"], row["kind"], low, high))
    return tuple(facets)


def category_by_slug(slug: str) -> CategoryInfo | None:
    """Return a category's name and facets, with the range of each numeric facet's values, cached;
    None for an unknown slug. One query: the facets and the ranges are subqueries."""

    def build() -> CategoryInfo:
        bounds = _numeric_bounds(OuterRef("pk"))
        row = (
            Category.objects.filter(slug=slug)
            .annotate(facet_rows=_facet_rows(OuterRef("pk")), **bounds)
            .values("id", "name", "slug", "facet_rows", *bounds)
            .first()
        )
        if row is None:
            raise _NoSuchCategory(slug)
        return CategoryInfo(row["id"], row["name"], row["slug"], _facets(row["facet_rows"], row))

    try:
        return get_or_build("catalog", "category", slug, build=build, timeout=CATALOG_TTL)
    except _NoSuchCategory:
        return None


def _filtered(category: CategoryInfo | None, filters: ProductFilters) -> QuerySet[Product]:
    """Return the active products (of the category, if any) matching the filters (no ordering,
    no columns)."""
    products = Product.objects.active()
    if category is not None:
        products = products.filter(category_id=category.id)
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
    for facet, (low, high) in filters.ranges.items():
        # The expression of the index product_<facet>_range: the planner matches it.
        if low is not None:
            products = products.filter(GreaterThanOrEqual(detail_number(facet), low))
        if high is not None:
            products = products.filter(LessThanOrEqual(detail_number(facet), high))
    return products


def products_for_listing(*, category: CategoryInfo, filters: ProductFilters) -> QuerySet[Product]:
    """Return the products of a category page, sorted, with only the columns the list shows."""
    return _filtered(category, filters).only(*LISTING_COLUMNS).order_by(*SORTS[filters.sort])


@dataclass(frozen=True)
class Bucket:
    """A bucket of a range facet: the products from `low` to `high` (both included), and how many."""

    low: Decimal
    high: Decimal
    count: int


@dataclass(frozen=True)
class ListingSummary:
    """What a product list shows about all the products matching its filters, not one page."""

    count: int
    # choice facet -> its values and how many products each would show, most first
    facets: dict[str, list[tuple[str, int]]]
    # range facet -> its buckets that would show products
    buckets: dict[str, list[Bucket]] = field(default_factory=dict)
    # the search page: each category's slug, name and matches (price filters applied), most first
    categories: list[tuple[str, str, int]] = field(default_factory=list)
    # the search page: whether the matches are full-text ones (else: like the words)
    exact: bool = True


def listing_summary(*, category: CategoryInfo, filters: ProductFilters) -> ListingSummary:
    """Return how many products match the filters and the facet counts, cached per category and
    filters: a warm category page then runs one query, its page of products. Nothing in it
    changes with stock, so checkouts leave it cached."""

    def build() -> ListingSummary:
        facets, buckets = _facet_counts(_rows(_facet_branches(category, filters)), category)
        return ListingSummary(_filtered(category, filters).count(), facets, buckets)

    return get_or_build(
        "catalog", "listing", category.id, *filters.cache_parts(), build=build, timeout=CATALOG_TTL
    )


def _facet_branches(category: CategoryInfo, filters: ProductFilters) -> list[QuerySet]:
    """Return a query per facet value count (a choice facet) or bucket (a range facet), each a
    (facet, value, label, n) row or rows.

    A facet's counts apply every filter but its own (choosing red next to blue adds products), so
    each is a branch of one UNION ALL query. A bucket counts from its low to its high value, both
    included, as its link filters: each reads its part of the facet's expression index.
    """
    branches = []
    for facet in category.facets:
        others = _filtered(category, filters.without(facet.key))
        if not facet.is_range:
            branches.append(
                others.annotate(
                    facet=Value(facet.key), value=KeyTextTransform(facet.key, "details"), label=Value("")
                )
                .filter(value__isnull=False)
                .values("facet", "value", "label")
                .annotate(n=Count("id"))
                .order_by()
            )
            continue
        number = detail_number(facet.key)
        for n, (low, high) in enumerate(facet.buckets()):
            branches.append(
                others.filter(GreaterThanOrEqual(number, low), LessThanOrEqual(number, high))
                .annotate(facet=Value(facet.key), value=Value(str(n)), label=Value(""))
                .values("facet", "value", "label")
                .annotate(n=Count("id"))
                .order_by()
            )
    return branches


def _rows(branches: list[QuerySet]) -> list[dict]:
    if not branches:
        return []
    return list(branches[0].union(*branches[1:], all=True))


def _facet_counts(
    rows: list[dict], category: CategoryInfo
) -> tuple[dict[str, list[tuple[str, int]]], dict[str, list[Bucket]]]:
    """Return the choice facets' value counts and the range facets' buckets from the rows of the
    UNION ALL query (_facet_branches)."""
    counts: dict[str, list[tuple[str, int]]] = {f.key: [] for f in category.facets if not f.is_range}
    buckets: dict[str, list[Bucket]] = {f.key: [] for f in category.facets if f.is_range}
    edges = {f.key: f.buckets() for f in category.facets if f.is_range}
    for row in rows:
        if row["facet"] in counts:
            counts[row["facet"]].append((row["value"], row["n"]))
        elif row["facet"] in buckets and row["n"]:
            low, high = edges[row["facet"]][int(row["value"])]
            buckets[row["facet"]].append(Bucket(low, high, row["n"]))
    for values in counts.values():
        values.sort(key=lambda pair: (-pair[1], pair[0]))
        del values[FACET_VALUES_SHOWN:]
    for facet_buckets in buckets.values():
        facet_buckets.sort(key=lambda bucket: bucket.low)
    return counts, buckets


class _NoSuchProduct(Exception):
    """Raised out of a cache build so that nothing is cached for an unknown or inactive slug."""


@dataclass(frozen=True)
class ProductPage:
    product: Product  # with its category
    related: list[dict]
    facets: tuple[Facet, ...] = ()  # its category's: the labels and units of its details


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
            .annotate(facet_rows=_facet_rows(OuterRef("category_id")))
            .filter(slug=slug)
            .first()
        )
        if product is None:
            raise _NoSuchProduct(slug)
        built.append(product)
        facets = _facets(product.facet_rows, {})
        del product.facet_rows  # kept in the page's facets, not twice in the cache
        return ProductPage(product, related_products(product=product), facets)

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


# --- Search ------------------------------------------------------------------------------------

# The products a search matches (catalog_product_matches, migration 0003), with the columns its
# summary counts by: found once, materialized, and read under the table's own name by every
# branch of the summary's UNION ALL (_rows_of_matches).
MATCHED_PRODUCTS = (
    "SELECT id, category_id, price, is_active, details, exact FROM catalog_product_matches(%s, %s)"
)
# One more branch of that UNION ALL: how many of the matches are full-text ones (all or none).
EXACT_BRANCH = "(SELECT 'exact', '', '', count(*) FILTER (WHERE exact) FROM catalog_product)"
# What a result shows: the list's columns and the product's category.
SEARCH_COLUMNS = (*LISTING_COLUMNS, "category__name")


def _tsquery(search: SearchTerms) -> Func:
    """Return the search as a tsquery: websearch_to_tsquery's, every word a prefix (migration 0003)."""
    return Func(Value(search.text), function="catalog_search_tsquery", output_field=SearchQueryField())


def _like_words(search: SearchTerms) -> RawSQL:
    """Return the words typed as a tsquery of the catalog's nearest words (a typo corrected,
    migration 0004): a subquery, so that it is looked up once, not for each row it ranks."""
    return RawSQL("(SELECT catalog_search_like_words(%s))", (search.words,), output_field=SearchQueryField())


def _matching(tsquery) -> Func:
    """Return `search_vector @@ tsquery`: what the GIN index product_search_vector serves."""
    return Func(
        F("search_vector"),
        tsquery,
        template="(%(expressions)s)",
        arg_joiner=" @@ ",
        output_field=BooleanField(),
    )


def search_results(
    *, search: SearchTerms, category: CategoryInfo | None, filters: ProductFilters, exact: bool
) -> QuerySet:
    """Return the active products matching a search (and the category and filters), with the
    columns a result shows, best first for the "relevance" sort: ranked by ts_rank_cd (name A,
    category B, facet values C). id breaks ties, so pages never overlap.

    Full-text matches (`exact`, as the search's summary found), every word a prefix so that a
    partial word finds its product. When there are none, the matches of the words nearest those
    typed, among the catalog's own words (a typo corrected: catalog_search_like_words).

    The corrected matches only when there are no exact ones, rather than after them: "lamp" is
    one edit from "lamps" and from "damp", so a corrected tail would add noise to every search,
    to its count and to the facet counts customers filter by.
    """
    products = _filtered(category, filters)
    tsquery = _tsquery(search) if exact else _like_words(search)
    products = products.filter(_matching(tsquery)).alias(
        score=Func(F("search_vector"), tsquery, function="ts_rank_cd", output_field=FloatField())
    )
    if filters.sort != "relevance":
        return products.order_by(*SORTS[filters.sort]).values(*SEARCH_COLUMNS)
    return products.order_by(F("score").desc(nulls_last=True), "id").values(*SEARCH_COLUMNS)


def search_summary(
    *, search: SearchTerms, category: CategoryInfo | None, filters: ProductFilters
) -> ListingSummary:
    """Return how many products match a search and its filters, whether by full text, each
    category's matches and, with a category chosen, its facet counts: one query, cached per
    search, category and filters as a category page's summary is."""

    def build() -> ListingSummary:
        rows = _rows_of_matches(search_summary_branches(category=category, filters=filters), search)
        count = next(row["n"] for row in rows if row["facet"] == "")
        exact = next(row["n"] for row in rows if row["facet"] == "exact") > 0
        categories = sorted(
            ((row["value"], row["label"], row["n"]) for row in rows if row["facet"] == "category"),
            key=lambda item: (-item[2], item[1]),
        )
        facet_rows = [row for row in rows if row["facet"] not in ("", "category", "exact")]
        facets, buckets = _facet_counts(facet_rows, category) if category is not None else ({}, {})
        return ListingSummary(count, facets, buckets, categories, exact)

    category_id = category.id if category is not None else None
    return get_or_build(
        "catalog",
        "search",
        search.text,
        category_id,
        *filters.cache_parts(),
        build=build,
        timeout=CATALOG_TTL,
    )


def search_summary_branches(*, category: CategoryInfo | None, filters: ProductFilters) -> list[QuerySet]:
    """Return the branches of a search's summary, as queries of all products (_rows_of_matches
    runs them over the matching ones only): the total, each category's, the category's facets'."""
    total = (
        _filtered(category, filters)
        .annotate(facet=Value(""), value=Value(""), label=Value(""))
        .values("facet", "value", "label")
        .annotate(n=Count("id"))
        .order_by()
    )
    # Every category's matches under the price filters: the other facets are the category's own.
    by_category = (
        _filtered(None, ProductFilters(filters.price_min, filters.price_max))
        .annotate(facet=Value("category"), value=F("category__slug"), label=F("category__name"))
        .values("facet", "value", "label")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [total, by_category, *(_facet_branches(category, filters) if category is not None else [])]


def _rows_of_matches(branches: list[QuerySet], search: SearchTerms) -> list[dict]:
    """Return the rows of the UNION ALL of `branches` over the products a search matches only,
    found once for all of them.

    The branches are the category page's own queries of the table; a WITH in front of them names
    the matching products `catalog_product`, materialized once, so that each branch reads those
    few rows rather than running the search again (an index scan and its rechecks each).
    """
    alias = router.db_for_read(Product)
    sql, params = matched_rows_sql(branches, search, using=alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def matched_rows_sql(branches: list[QuerySet], search: SearchTerms, *, using: str) -> tuple[str, list]:
    """Return the statement _rows_of_matches runs, and its parameters."""
    sql, params = branches[0].union(*branches[1:], all=True).query.get_compiler(using=using).as_sql()
    statement = f"WITH catalog_product AS MATERIALIZED ({MATCHED_PRODUCTS}) {sql} UNION ALL {EXACT_BRANCH}"
    return statement, [search.text, search.words, *params]
