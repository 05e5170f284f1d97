from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.lookups import Exact
from django.urls import reverse
from django.utils import timezone

# The largest price a product can have: Product.price is numeric(10, 2).
MAX_PRICE = Decimal("99999999.99")


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    # The allow-list of `Product.details` keys customers may filter on in this category.
    facets = ArrayField(models.CharField(max_length=40), default=list, blank=True)

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
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self):
        return reverse("catalog:product", args=[self.slug])
