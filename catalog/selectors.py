"""Every read query of the catalog."""

from django.core.cache import cache
from django.db.models.fields.json import KeyTextTransform

from catalog.models import Category, Product

# A DISTINCT over every product's details is a full scan: staff can wait minutes for a new color.
PRODUCT_COLORS_TTL = 600


def category_ids_by_slug() -> dict[str, int]:
    """Return {slug: id} for every category, for validating imports."""
    return dict(Category.objects.values_list("slug", "id"))


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

    return cache.get_or_set(f"catalog:product-colors:{limit}", distinct_colors, PRODUCT_COLORS_TTL)
