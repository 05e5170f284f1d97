from decimal import Decimal

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Case, F, Func, Q, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.lookups import Exact, IsNull
from django.urls import reverse
from django.utils import timezone

# The largest price a product can have: Product.price is numeric(10, 2).
MAX_PRICE = Decimal("99999999.99")
# A facet's key is a `details` key and a query-string name: plain letters, digits, underscores.
FACET_KEY_PATTERN = r"^[A-Za-z0-9_]+$"
# The `details` keys a category may filter on by range: each has an expression index
# (product_<key>_range, below). Another numeric facet starts here, with `makemigrations`.
NUMERIC_DETAILS = (
    "weight_g",
    "ram_gb",
    "storage_gb",
    "screen_in",
    "seats",
    "width_cm",
    "grams",
    "pages",
    "gears",
    "litres",
)


class ToNumeric(Func):
    """Text to numeric: only ever given a JSON number's text, which always converts."""

    template = "(%(expressions)s)::numeric"
    output_field = models.DecimalField()


def detail_number(key: str) -> Case:
    """Return the expression of a `details` value as a number: NULL unless it is a JSON number.

    Immutable and never an error (a string, a list or a missing key is NULL), so it can be indexed
    and filtered on for every product; the expression indexes below are built from this very
    expression, which the planner matches in a filter.
    """
    is_number = Exact(
        Func(KeyTransform(key, "details"), function="jsonb_typeof", output_field=models.TextField()), "number"
    )
    return Case(
        When(is_number, then=ToNumeric(KeyTextTransform(key, "details"))), output_field=models.DecimalField()
    )


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=r"^[-a-z0-9]+$"), name="category_slug_is_lowercase"
            ),
        ]

    def __str__(self):
        return self.name


class CategoryFacet(models.Model):
    """A `details` key customers may filter a category's products on: the allow-list of filters."""

    class Kind(models.TextChoices):
        CHOICE = "choice", "Choice (checkboxes of the values)"
        RANGE = "range", "Range (numbers, from and to)"

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="facets")
    key = models.CharField(max_length=40, help_text="The key in the products' details, e.g. ram_gb.")
    label = models.CharField(max_length=60, help_text="What customers read, e.g. RAM.")
    unit = models.CharField(max_length=20, blank=True, help_text="Shown after numbers, e.g. GB.")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHOICE)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "key"], name="categoryfacet_one_per_key"),
            models.CheckConstraint(
                condition=Q(key__regex=FACET_KEY_PATTERN), name="categoryfacet_key_is_plain"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["choice", "range"]), name="categoryfacet_kind_is_known"
            ),
            # A range facet is served by its expression index: only the keys that have one.
            models.CheckConstraint(
                condition=~Q(kind="range") | Q(key__in=NUMERIC_DETAILS), name="categoryfacet_range_is_indexed"
            ),
        ]

    def __str__(self):
        return f"{self.label} ({self.key})"


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Product(models.Model):
    # Unique through constraints below: `unique=True` would add LIKE indexes nothing here uses.
    sku = models.CharField(max_length=64)
    slug = models.SlugField(max_length=200, db_index=False)
    name = models.CharField(max_length=200)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)
    # Attributes that vary by category: color, size, brand, material, weight, nested specs.
    details = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    # The picture's file, named by its content's hash; its thumbnails are named after it and made
    # when it is stored (catalog/pictures.py). Its size, upright, gives every thumbnail's size.
    # db_default: rows written by SQL (the import's upsert, COPY) have none, not a NULL.
    picture = models.ImageField(upload_to="products/", max_length=200, blank=True, default="", db_default="")
    picture_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    picture_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    picture_alt = models.CharField(
        "picture's alt text",
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="What the picture shows, read out to those who cannot see it; empty: the product's name.",
    )
    # Written by the database only (triggers of migration 0003, on a product's insert or update
    # and on its category's rename or facets): name (A), category name (B), facet values (C).
    search_vector = SearchVectorField(null=True, editable=False)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["sku"], name="product_sku_unique"),
            models.UniqueConstraint(fields=["slug"], name="product_slug_unique"),
            models.CheckConstraint(condition=Q(stock__gte=0), name="product_stock_not_negative"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
            models.CheckConstraint(condition=Q(sku__regex=r"^\S+$"), name="product_sku_has_no_spaces"),
            models.CheckConstraint(condition=~Q(name=""), name="product_name_not_empty"),
            models.CheckConstraint(
                condition=Exact(
                    Func(F("details"), function="jsonb_typeof", output_field=models.TextField()), "object"
                ),
                name="product_details_is_object",
            ),
            # A picture has its size (the thumbnails' sizes follow from it); no picture, no size.
            models.CheckConstraint(
                condition=Q(picture="", picture_width__isnull=True, picture_height__isnull=True)
                # Not NULL, then positive: a CHECK passes what it finds NULL.
                | (
                    ~Q(picture="")
                    & Q(picture_width__isnull=False, picture_height__isnull=False)
                    & Q(picture_width__gt=0, picture_height__gt=0)
                ),
                name="product_picture_has_its_size",
            ),
        ]
        indexes = [
            # Containment filters (details @> '{"color": "red"}') on any attribute.
            GinIndex(fields=["details"], opclasses=["jsonb_path_ops"], name="product_details_gin"),
            # The catalog list: active products of a category by price (then id, for stable pages),
            # with the columns its cards show, their pictures' too: an index-only scan, no sort.
            models.Index(
                fields=["category", "price", "id"],
                name="product_listing",
                condition=Q(is_active=True),
                include=[
                    "name",
                    "slug",
                    "stock",
                    "picture",
                    "picture_width",
                    "picture_height",
                    "picture_alt",
                ],
            ),
            # Full-text search over active products (a typo is first corrected: SearchWord).
            GinIndex(fields=["search_vector"], name="product_search_vector", condition=Q(is_active=True)),
            # A category's range filters and bucket counts on a number in details, and its lowest
            # and highest value: one small index per numeric detail, of the products that have it.
            *(
                models.Index(
                    F("category"),
                    detail_number(key),
                    name=f"product_{key}_range",
                    condition=Q(is_active=True) & Q(IsNull(detail_number(key), False)),
                )
                for key in NUMERIC_DETAILS
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self):
        return reverse("catalog:product", args=[self.slug])


class SearchWord(models.Model):
    """A word of the catalog (a product's name, its category's, its facet values; four letters or
    more) and its lexeme: what a typo is corrected to. Written by the database only (the trigger
    of migration 0004, on a product's insert or update); only added, never removed."""

    word = models.TextField(primary_key=True)
    lexeme = models.TextField()

    def __str__(self):
        return self.word
