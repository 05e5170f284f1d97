import json
import re

from django import forms
from django.contrib import admin
from django.contrib.postgres.aggregates import StringAgg
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, OuterRef, Subquery
from django.forms.fields import InvalidJSONInput
from django.utils.safestring import mark_safe

from catalog.details import DetailsRefused, details_from_json
from catalog.filters import RESERVED_NAMES, range_parameters
from catalog.fragments import product_picture
from catalog.models import NUMERIC_DETAILS, Category, CategoryFacet, Product
from catalog.pictures import MAX_BYTES, MAX_PIXELS, PictureRead, PictureRefused, picture_read, picture_store
from catalog.selectors import product_colors
from shopsite.admin import GrowingTableAdmin, money_column
from shopsite.caching.versioned import namespace_bump_on_commit

# Facet names become JSONB keys in catalog filters and query strings: keep them plain.
FACET_KEY = re.compile(r"[A-Za-z0-9_]+")
# The same rule as the database constraint category_slug_is_lowercase, with a clearer message.
CATEGORY_SLUG = re.compile(r"[-a-z0-9]+")
DETAILS_NOT_OBJECT = 'Details must be a JSON object, e.g. {"color": "red"}.'
# Enough colors to pick from in the sidebar; a longer list would bury the filter.
COLOR_CHOICES_LIMIT = 50


class CategoryAdminForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["name", "slug"]

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if not CATEGORY_SLUG.fullmatch(slug):
            raise forms.ValidationError(
                "Use lowercase letters, digits and hyphens only.", code="slug_not_lowercase"
            )
        return slug


class CategoryFacetForm(forms.ModelForm):
    """One facet of a category: its key checked here with a clear message before the database's
    constraints would refuse it."""

    class Meta:
        model = CategoryFacet
        fields = ["key", "label", "unit", "kind", "position"]

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip()
        if not FACET_KEY.fullmatch(key):
            raise forms.ValidationError(
                "A facet's key is a simple key of letters, digits and underscores.", code="facet_not_simple"
            )
        if key in RESERVED_NAMES:
            raise forms.ValidationError(
                "%(key)s is a name the catalog pages use already; choose another key.",
                code="facet_reserved",
                params={"key": key},
            )
        return key

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == CategoryFacet.Kind.RANGE and cleaned.get("key") not in (
            None,
            *NUMERIC_DETAILS,
        ):
            self.add_error(
                "kind",
                forms.ValidationError(
                    "A range needs an index on its key: one of %(keys)s (another is added in "
                    "catalog.models.NUMERIC_DETAILS, with a migration).",
                    code="facet_range_not_indexed",
                    params={"keys": ", ".join(NUMERIC_DETAILS)},
                ),
            )
        return cleaned


class CategoryFacetFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """Refuse two facets whose query-string names would be the same (ram_gb_min as a choice
        next to ram_gb as a range)."""
        super().clean()
        names: dict[str, str] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", {})
            if not data or data.get("DELETE") or not data.get("key"):
                continue
            key = data["key"]
            used = range_parameters(key) if data.get("kind") == CategoryFacet.Kind.RANGE else (key,)
            for name in used:
                if name in names:
                    raise forms.ValidationError(
                        "The facets %(first)s and %(second)s would both read %(name)s from the address.",
                        code="facet_names_clash",
                        params={"first": names[name], "second": key, "name": name},
                    )
                names[name] = key


class CategoryFacetInline(admin.TabularInline):
    model = CategoryFacet
    form = CategoryFacetForm
    formset = CategoryFacetFormSet
    extra = 1
    fields = ["key", "label", "unit", "kind", "position"]


class DetailsJSONField(forms.JSONField):
    """A JSON field shown indented, one attribute a line, so staff can read and edit it.

    What staff type is read by catalog.details, with the import's rules: no NaN, no number Python
    cannot read back, no NUL or lone surrogate, at most MAX_DETAILS_DEPTH levels.
    """

    def to_python(self, value):
        if self.disabled or not isinstance(value, str):
            return super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return details_from_json(value)
        except DetailsRefused as refused:
            if refused.code == "not_json":
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid", params={"value": value}
                ) from None
            raise forms.ValidationError(
                f"{refused.reason[0].upper()}{refused.reason[1:]}.", code=f"details_{refused.code}"
            ) from None

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return details_from_json(data)
        except DetailsRefused:  # anything refused is shown back as typed, never parsed to show it
            return InvalidJSONInput(data)

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):  # what staff typed, shown back as typed
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class ProductAdminForm(forms.ModelForm):
    details = DetailsJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 60, "class": "vLargeTextField"}),
        help_text='Attributes as a JSON object, e.g. {"color": "red", "size": "M"}.',
    )

    class Meta:
        model = Product
        fields = ["sku", "name", "slug", "category", "price", "stock", "is_active", "details", "created"]
        fields += ["picture", "picture_alt"]
        help_texts = {
            "picture": (
                f"JPEG, PNG, WebP or GIF, at most {MAX_BYTES // 1024 // 1024} MB and "
                f"{MAX_PIXELS // 1_000_000} megapixels; its thumbnails are made as it is saved."
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.picture_read: PictureRead | None = None  # a new picture, read by clean_picture

    def clean_picture(self):
        """Read a new picture whole, so that anything the shop does not take (not a picture, a
        damaged one, too large, a decompression bomb) is a form error, never a failed save."""
        picture = self.cleaned_data["picture"]
        if isinstance(picture, UploadedFile):
            try:
                self.picture_read = picture_read(picture)
            except PictureRefused as refused:
                raise forms.ValidationError(str(refused), code=refused.code) from None
        return picture

    def clean_details(self) -> dict:
        details = self.cleaned_data["details"]
        # An empty box means no attributes; a typed `null` is a value, and not an object.
        if details is None and not (self["details"].data or "").strip():
            return {}
        if not isinstance(details, dict):
            raise forms.ValidationError(DETAILS_NOT_OBJECT, code="details_not_object")
        return details


class ColorFilter(admin.SimpleListFilter):
    title = "color"
    parameter_name = "color"

    def lookups(self, request, model_admin):
        return [(color, color) for color in product_colors(limit=COLOR_CHOICES_LIMIT)]

    def queryset(self, request, queryset):
        if self.value():
            # Containment (details @> '{"color": ...}') is what the GIN index product_details_gin serves.
            return queryset.filter(details__contains={"color": self.value()})
        return queryset


class BumpsCatalogCache:
    """Admin writes move the storefront's cached pages (namespace "catalog") to a new version."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        namespace_bump_on_commit("catalog")

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        namespace_bump_on_commit("catalog")

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        namespace_bump_on_commit("catalog")


@admin.register(Category)
class CategoryAdmin(BumpsCatalogCache, admin.ModelAdmin):
    form = CategoryAdminForm
    inlines = [CategoryFacetInline]
    list_display = ["name", "slug", "facet_keys", "product_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["name"]

    def get_queryset(self, request):
        # One GROUP BY query counts the products of every category on the page; its facets' keys
        # come in the same query, from a subquery (a join would multiply the products counted).
        keys = (
            CategoryFacet.objects.filter(category=OuterRef("pk"))
            .values("category")
            .annotate(keys=StringAgg("key", ", ", order_by=("position", "id")))
            .values("keys")
        )
        return super().get_queryset(request).annotate(product_count=Count("products"), keys=Subquery(keys))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        namespace_bump_on_commit("catalog")  # the facets are in the cached category

    @admin.display(description="facets")
    def facet_keys(self, category: Category) -> str:
        return category.keys or ""

    @admin.display(description="products", ordering="product_count")
    def product_count(self, category: Category) -> int:
        return category.product_count


@admin.register(Product)
class ProductAdmin(BumpsCatalogCache, GrowingTableAdmin):
    form = ProductAdminForm
    list_display = ["sku", "name", "category", money_column("price"), "stock", "is_active", "color"]
    list_display_links = ["sku", "name"]
    list_select_related = ["category"]
    list_filter = ["category", "is_active", ColorFilter]
    search_fields = ["=sku", "name"]
    search_help_text = "Search by exact SKU or part of the name."
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["updated", "picture_shown"]
    # Newest first, served by the primary key index; every column stays sortable by a click.
    ordering = ["-pk"]
    list_per_page = 50

    def save_model(self, request, obj, form, change):
        if form.picture_read is not None:
            # Stored under its content's hash with its thumbnails, before the row points at it.
            stored = picture_store(form.picture_read)
            obj.picture, obj.picture_width, obj.picture_height = stored.name, stored.width, stored.height
        elif not obj.picture:  # cleared (its files stay: another product may show the same picture)
            obj.picture_width = obj.picture_height = None
        super().save_model(request, obj, form, change)

    @admin.display(description="picture as shown")
    def picture_shown(self, product: Product) -> str:
        return mark_safe(product_picture(product, shown="card"))  # every text in it escaped

    @admin.display(description="color")
    def color(self, product: Product) -> str:
        return product.details.get("color", "")
