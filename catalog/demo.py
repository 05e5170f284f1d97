"""Deterministic demo catalog, written in bulk: categories and products, each with a picture
(catalog.demo_pictures).

The whole shop's demo (accounts.demo) seeds the catalog through `catalog_seed` and empties it
through `catalog_reset`: only this app writes its tables.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils.text import slugify

from catalog.demo_pictures import DemoPictures
from catalog.models import Category, CategoryFacet, Product
from shopsite.caching.versioned import namespace_bump_on_commit

BATCH_SIZE = 5_000
HISTORY_DAYS = 730  # products were added over the last two years; the shop's orders span the same

COLORS = ["black", "white", "red", "blue", "green", "grey", "navy", "beige", "yellow", "pink"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
MATERIALS = ["cotton", "wool", "linen", "polyester", "leather", "denim", "silk"]
# Nouns that name what the product is made of: its details must say the same.
NOUN_MATERIALS = {"Linen shirt": "linen", "Flannel shirt": "cotton", "Fleece": "polyester"}


def choice(key: str, label: str) -> tuple[str, str, str, str]:
    """A facet customers filter on by ticking values: (key, label, unit, kind)."""
    return (key, label, "", "choice")


def number(key: str, label: str, unit: str = "") -> tuple[str, str, str, str]:
    """A facet customers filter on by range (its key is one of catalog.models.NUMERIC_DETAILS)."""
    return (key, label, unit, "range")


COLOR, SIZE, BRAND, MATERIAL = (
    choice("color", "Color"),
    choice("size", "Size"),
    choice("brand", "Brand"),
    choice("material", "Material"),
)
WEIGHT = number("weight_g", "Weight", "g")  # every product has one

# (name, facets, brands, nouns, price range, extra details): every detail at the top level, so
# that numbers can be filtered on by range and every row of a product's table has a label.
CATEGORY_TEMPLATES: list[
    tuple[str, list[tuple[str, str, str, str]], list[str], list[str], tuple[int, int], Callable]
] = [
    (
        "Shirts",
        [COLOR, SIZE, BRAND, MATERIAL, WEIGHT],
        ["Northwind", "Fjord", "Calder", "Oakley & Co"],
        ["Oxford shirt", "Linen shirt", "Flannel shirt", "Polo"],
        (15, 90),
        lambda r: {},
    ),
    (
        "Shoes",
        [COLOR, SIZE, BRAND, choice("sole", "Sole"), WEIGHT],
        ["Strider", "Pavement", "Trailhead"],
        ["Runner", "Sneaker", "Boot", "Loafer"],
        (40, 220),
        lambda r: {"size": str(r.randint(36, 47)), "sole": r.choice(["rubber", "leather", "EVA"])},
    ),
    (
        "Jackets",
        [COLOR, SIZE, BRAND, MATERIAL, WEIGHT],
        ["Northwind", "Glacier", "Calder"],
        ["Rain jacket", "Parka", "Bomber", "Fleece"],
        (60, 400),
        lambda r: {"waterproof": r.random() < 0.5},
    ),
    (
        "Laptops",
        [
            BRAND,
            COLOR,
            choice("cpu", "CPU"),
            number("ram_gb", "RAM", "GB"),
            number("storage_gb", "Storage", "GB"),
            number("screen_in", "Screen", "in"),
            WEIGHT,
        ],
        ["Lumen", "Quanta", "Vertex"],
        ["Ultrabook", "Workstation", "Notebook"],
        (500, 3200),
        lambda r: {
            "size": None,
            "material": "aluminium",
            "cpu": r.choice(["8-core", "10-core", "12-core"]),
            "ram_gb": r.choice([8, 16, 32, 64]),
            "storage_gb": r.choice([256, 512, 1024, 2048]),
            "screen_in": r.choice([13.3, 14, 15.6, 16]),
        },
    ),
    (
        "Phones",
        [BRAND, COLOR, number("storage_gb", "Storage", "GB"), number("screen_in", "Screen", "in"), WEIGHT],
        ["Lumen", "Pixelite", "Orbit"],
        ["Phone", "Phone Pro", "Phone Mini"],
        (200, 1500),
        lambda r: {
            "size": None,
            "material": "glass",
            "storage_gb": r.choice([64, 128, 256, 512]),
            "screen_in": r.choice([5.8, 6.1, 6.7]),
        },
    ),
    (
        "Headphones",
        [BRAND, COLOR, WEIGHT],
        ["Sonora", "Bassline", "Quanta"],
        ["Earbuds", "Headphones", "Studio headphones"],
        (25, 450),
        lambda r: {"size": None, "wireless": r.random() < 0.7, "noise_cancelling": r.random() < 0.4},
    ),
    (
        "Sofas",
        [COLOR, MATERIAL, BRAND, number("seats", "Seats"), number("width_cm", "Width", "cm"), WEIGHT],
        ["Hearth", "Nordvik", "Loft"],
        ["Sofa", "Corner sofa", "Loveseat"],
        (300, 2500),
        lambda r: {
            "size": None,
            "material": r.choice(["velvet", "linen", "leather", "wool"]),
            "seats": r.randint(2, 5),
            "width_cm": r.randint(140, 320),
        },
    ),
    (
        "Coffee",
        [BRAND, choice("origin", "Origin"), choice("roast", "Roast"), number("grams", "Pack", "g")],
        ["Roastery 9", "Highland", "Crema"],
        ["Espresso blend", "Single origin", "Decaf"],
        (6, 40),
        lambda r: {
            "size": None,
            "color": None,
            "material": None,
            "origin": r.choice(["Ethiopia", "Colombia", "Brazil", "Kenya", "Guatemala"]),
            "roast": r.choice(["light", "medium", "dark"]),
            "grams": r.choice([250, 500, 1000]),
        },
    ),
    (
        "Books",
        [choice("brand", "Publisher"), number("pages", "Pages")],
        ["Penwick", "Harbor Press", "Atlas"],
        ["Novel", "Cookbook", "Field guide", "Road atlas"],
        (8, 60),
        lambda r: {"size": None, "color": None, "material": "paper", "pages": r.randint(90, 900)},
    ),
    (
        "Bikes",
        [COLOR, SIZE, BRAND, number("gears", "Gears"), WEIGHT],
        ["Velo", "Strider", "Ridgeline"],
        ["Road bike", "Gravel bike", "City bike"],
        (350, 4000),
        lambda r: {
            "size": r.choice(["S", "M", "L", "XL"]),
            "material": r.choice(["aluminium", "carbon", "steel"]),
            "gears": r.choice([1, 8, 11, 12, 22]),
        },
    ),
    (
        "Lamps",
        [COLOR, BRAND, MATERIAL, WEIGHT],
        ["Lumen", "Hearth", "Nordvik"],
        ["Desk lamp", "Floor lamp", "Pendant"],
        (20, 350),
        lambda r: {"size": None, "material": r.choice(["brass", "steel", "glass", "paper"])},
    ),
    (
        "Backpacks",
        [COLOR, BRAND, MATERIAL, number("litres", "Volume", "l"), WEIGHT],
        ["Trailhead", "Fjord", "Glacier"],
        ["Daypack", "Rolltop", "Travel pack"],
        (30, 250),
        lambda r: {"size": None, "litres": r.choice([15, 20, 25, 30, 40])},
    ),
]


def catalog_is_empty() -> bool:
    """Return whether the shop has no category and no product."""
    return not (Category.objects.exists() or Product.objects.exists())


@transaction.atomic
def catalog_reset() -> None:
    """Delete every product and category and restart their ids at 1.

    Order items reference products (PROTECT), so empty the orders first: a product still in an
    order makes this fail. DELETE, not TRUNCATE: PostgreSQL truncates a table that another table
    references only together with that table, and the order items are not the catalog's to empty.
    """
    with connection.cursor() as cursor:
        # A product still referenced fails here, not at commit.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DELETE FROM catalog_product")
        cursor.execute("DELETE FROM catalog_categoryfacet")
        cursor.execute("DELETE FROM catalog_category")
        # Transactional, unlike setval(): a rolled-back reset leaves the ids where they were.
        cursor.execute("ALTER TABLE catalog_product ALTER COLUMN id RESTART")
        cursor.execute("ALTER TABLE catalog_categoryfacet ALTER COLUMN id RESTART")
        cursor.execute("ALTER TABLE catalog_category ALTER COLUMN id RESTART")


def catalog_seed(
    *,
    rng: random.Random,
    categories: int,
    products: int,
    now: datetime,
    progress: Callable[[str, int], None] | None = None,
) -> list[Product]:
    """Create `categories` categories and `products` products drawn from `rng`; return the products.

    The caller's `rng` goes on to draw the rest of the shop, so the same seed gives the same shop.
    """
    tick = progress or (lambda stage, n: None)
    made_categories = _categories(categories)
    Category.objects.bulk_create(made_categories, batch_size=BATCH_SIZE)
    CategoryFacet.objects.bulk_create(_facets(made_categories), batch_size=BATCH_SIZE)
    tick("categories", len(made_categories))

    pictures = DemoPictures()
    made_products = _products(rng, made_categories, products, now, pictures)
    tick("pictures", len(pictures.stored))
    Product.objects.bulk_create(made_products, batch_size=BATCH_SIZE)
    tick("products", len(made_products))

    with connection.cursor() as cursor:
        # Fresh statistics for the queries that follow a seed, rather than the empty table's.
        cursor.execute("ANALYZE catalog_product")
    namespace_bump_on_commit("catalog")
    return made_products


def _categories(count: int) -> list[Category]:
    categories = []
    for n in range(count):
        name, *_ = CATEGORY_TEMPLATES[n % len(CATEGORY_TEMPLATES)]
        if n >= len(CATEGORY_TEMPLATES):
            name = f"{name} {n // len(CATEGORY_TEMPLATES) + 1}"
        categories.append(Category(name=name, slug=slugify(name)))
    return categories


def _facets(categories: list[Category]) -> list[CategoryFacet]:
    """Return the facets each category declares, in its template's order."""
    return [
        CategoryFacet(category=category, key=key, label=label, unit=unit, kind=kind, position=position)
        for n, category in enumerate(categories)
        for position, (key, label, unit, kind) in enumerate(
            CATEGORY_TEMPLATES[n % len(CATEGORY_TEMPLATES)][1]
        )
    ]


def _products(
    rng: random.Random, categories: list[Category], count: int, now, pictures: DemoPictures
) -> list[Product]:
    products = []
    for n in range(count):
        category = categories[n % len(categories)]
        template = n % len(categories) % len(CATEGORY_TEMPLATES)
        _, _, brands, nouns, (low, high), extra = CATEGORY_TEMPLATES[template]
        brand, noun, color = rng.choice(brands), rng.choice(nouns), rng.choice(COLORS)
        details = {
            "color": color,
            "size": rng.choice(SIZES),
            "brand": brand,
            "material": rng.choice(MATERIALS),
            "weight_g": rng.randint(50, 15_000),
        }
        details.update(extra(rng))
        if noun in NOUN_MATERIALS:
            details["material"] = NOUN_MATERIALS[noun]
        details = {key: value for key, value in details.items() if value is not None}
        name = _product_name(brand, noun, details)
        sku = f"{category.slug[:3].upper()}-{n + 1:07d}"
        # Drawn from what the product is, not from `rng`: the rest of the shop stays as it was.
        variant, color = nouns.index(noun), details.get("color")
        picture = pictures.for_product(template=template, variant=variant, color=color)
        products.append(
            Product(
                sku=sku,
                slug=slugify(f"{name}-{sku}"),
                name=name,
                category=category,
                price=Decimal(rng.randint(low * 100, high * 100)) / 100,
                stock=rng.choice([0, 3, 10, 25, 60, 150]),
                is_active=rng.random() > 0.03,
                details=details,
                created=now - timedelta(days=rng.randint(0, HISTORY_DAYS), seconds=rng.randint(0, 86_399)),
                picture=picture.name,
                picture_width=picture.width,
                picture_height=picture.height,
            )
        )
    return products


def _product_name(brand: str, noun: str, details: dict) -> str:
    """Return "Brand Noun in color", naming a color only when the product has one (coffee has none)."""
    return f"{brand} {noun} in {details['color']}" if "color" in details else f"{brand} {noun}"
