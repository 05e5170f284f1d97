import os
import random
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Sum
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.demo import _lifecycle
from accounts.models import SHIPPED_STATUSES, Customer, Order, OrderItem, OrderStatus, User
from catalog.demo import CATEGORY_TEMPLATES, HISTORY_DAYS, NOUN_MATERIALS
from catalog.models import Category, Product
from catalog.pictures import thumbnail_name

pytestmark = pytest.mark.django_db

SMALL = ["--categories", "4", "--products", "40", "--customers", "30", "--orders", "120", "--logins", "2"]


def _seed(tmp_path, *args) -> str:
    out = StringIO()
    call_command("seed_demo", *SMALL, "--logins-file", str(tmp_path / "logins.txt"), *args, stdout=out)
    return out.getvalue()


def _snapshot():
    return (
        list(Product.objects.order_by("sku").values_list("sku", "name", "price", "details", "picture")),
        # Not `created`: it counts back from the moment of seeding.
        list(Order.objects.order_by("id").values_list("customer__email", "status", "total")),
        list(OrderItem.objects.order_by("id").values_list("order_id", "product__sku", "quantity")),
    )


def test_seeds_the_sizes_asked_for(tmp_path):
    out = _seed(tmp_path)

    assert (Category.objects.count(), Product.objects.count(), Customer.objects.count()) == (4, 40, 30)
    assert Order.objects.count() == 120
    assert 120 <= OrderItem.objects.count() <= 600
    assert "Seeded 4 categories, 40 products, 30 customers, 120 orders" in out


def test_orders_have_one_to_five_items_and_totals_that_add_up(tmp_path):
    _seed(tmp_path)

    per_order = Order.objects.annotate(
        lines=Count("items"), computed=Sum(F("items__quantity") * F("items__unit_price"))
    ).values_list("lines", "total", "computed")
    assert all(1 <= lines <= 5 and total == computed for lines, total, computed in per_order)


def test_orders_spread_over_two_years_with_shipped_times_only_when_shipped(tmp_path):
    _seed(tmp_path)

    statuses = set(Order.objects.values_list("status", flat=True))
    assert {OrderStatus.DELIVERED, OrderStatus.CANCELLED} <= statuses
    assert not Order.objects.filter(
        shipped__isnull=False, status__in=["pending", "paid", "cancelled"]
    ).exists()
    assert not Order.objects.filter(shipped__isnull=True, status__in=["shipped", "delivered"]).exists()
    assert (
        not Customer.objects.filter(orders__isnull=False, last_purchase__isnull=True)
        .exclude(orders__status="cancelled")
        .exists()
    )


def test_same_seed_gives_the_same_data(tmp_path):
    _seed(tmp_path, "--seed", "7")
    first = _snapshot()
    _seed(tmp_path, "--seed", "7", "--reset")
    second = _snapshot()
    _seed(tmp_path, "--seed", "8", "--reset")
    other = _snapshot()

    assert [rows for rows in first[:2]] == [rows for rows in second[:2]]
    assert first[0] != other[0]


def test_refuses_a_shop_with_data_unless_reset(tmp_path):
    _seed(tmp_path)

    with pytest.raises(CommandError, match="--reset"):
        _seed(tmp_path)
    assert "not seeding" in _seed(tmp_path, "--if-empty")
    assert Order.objects.count() == 120


def test_demo_logins_get_generated_passwords_in_a_private_file(tmp_path):
    out = _seed(tmp_path)

    lines = (tmp_path / "logins.txt").read_text().split("\n")
    logins = dict(line.split() for line in lines if line)
    assert set(logins) == {"demo-staff", "demo-customer-1", "demo-customer-2"}
    assert User.objects.get(username="demo-staff").is_staff
    assert User.objects.get(username="demo-customer-1").check_password(logins["demo-customer-1"])
    assert Customer.objects.filter(user__isnull=False).count() == 2
    assert len(set(logins.values())) == 3
    assert (tmp_path / "logins.txt").stat().st_mode & 0o077 == 0
    assert "passwords in" in out
    assert logins["demo-staff"] not in out


def test_negative_sizes_are_refused():
    with pytest.raises(CommandError, match="negative"):
        call_command("seed_demo", "--orders", "-5", stdout=StringIO())


def test_a_logins_file_that_is_a_device_keeps_its_mode(tmp_path):
    before = os.stat(os.devnull).st_mode

    call_command("seed_demo", *SMALL, "--logins-file", os.devnull, stdout=StringIO())

    assert os.stat(os.devnull).st_mode == before


# --- The same rules as the shop's own data ----------------------------------------------------------


def test_no_order_is_shipped_in_the_future_or_before_it_was_placed(tmp_path):
    # Enough orders for a few dozen in the last three days, the ones a shipment could overtake.
    before = timezone.now()
    _seed(tmp_path, "--orders", "20000")

    shipped = Order.objects.filter(shipped__isnull=False)
    assert shipped.filter(created__gte=before - timedelta(days=3)).exists()
    assert not shipped.filter(shipped__gt=before).exists()
    assert not shipped.filter(shipped__lt=F("created")).exists()
    assert not Order.objects.filter(shipped__isnull=True, status__in=SHIPPED_STATUSES).exists()


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    age=st.integers(min_value=0, max_value=HISTORY_DAYS * 86_400),
    drawn=st.sampled_from(list(OrderStatus)),
)
def test_a_seeded_order_is_where_the_lifecycle_has_it_at_the_time_of_seeding(seed, age, drawn):
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    created = now - timedelta(seconds=age)

    status, shipped = _lifecycle(random.Random(seed), drawn, created, now)

    assert (shipped is not None) == (status in SHIPPED_STATUSES)
    if shipped is not None:
        assert created <= shipped <= now
    # Only ever earlier in the lifecycle than drawn: an order not yet shipped is paid, one not yet
    # delivered is shipped.
    assert status == drawn or (drawn, status) in {
        (OrderStatus.SHIPPED, OrderStatus.PAID),
        (OrderStatus.DELIVERED, OrderStatus.PAID),
        (OrderStatus.DELIVERED, OrderStatus.SHIPPED),
    }
    if drawn == OrderStatus.DELIVERED and status == OrderStatus.SHIPPED:
        assert now - shipped < timedelta(days=6)


def test_product_names_fit_their_category(tmp_path):
    _seed(tmp_path, "--categories", "14", "--products", "300")

    templates = {name: (brands, nouns) for name, _, brands, nouns, *_ in CATEGORY_TEMPLATES}
    for name, category, details in Product.objects.values_list("name", "category__name", "details"):
        brands, nouns = templates[category.rsplit(" ", 1)[0] if category[-1].isdigit() else category]
        color = f" in {details['color']}" if "color" in details else ""
        assert any(name == f"{brand} {noun}{color}" for brand in brands for noun in nouns), (category, name)
        for noun, material in NOUN_MATERIALS.items():
            if noun in name:
                assert details["material"] == material, (name, details)


def test_every_product_gets_a_picture_of_what_it_is_with_its_thumbnails(tmp_path, media_root):
    _seed(tmp_path)

    columns = ("picture", "picture_width", "picture_height", "name", "category__name")
    pictures = Product.objects.values_list(*columns)
    assert all(width == 640 and height == 480 for _, width, height, _, _ in pictures)
    for name, *_ in pictures:
        for width in (160, 320, 640):
            assert (media_root / thumbnail_name(name, width)).is_file()
    # Drawn from what the product is and its color ("Parka in navy"): every brand's looks the same.
    brands = {category: brands for category, _, brands, *_ in CATEGORY_TEMPLATES}
    drawn = {}
    for picture, _, _, name, category in pictures:
        brand = next(brand for brand in brands[category] if name.startswith(f"{brand} "))
        drawn.setdefault((category, name.removeprefix(f"{brand} ")), set()).add(picture)
    assert all(len(shown) == 1 for shown in drawn.values()), drawn
    # Another color, another picture.
    shirts = [(what.rsplit(" in ")[1], *shown) for (kind, what), shown in drawn.items() if kind == "Shirts"]
    assert len({picture for _, picture in shirts}) >= len({color for color, _ in shirts}) > 1


def test_seeding_again_writes_no_picture_again(tmp_path, media_root):
    _seed(tmp_path)
    written = {path: path.stat().st_mtime_ns for path in media_root.rglob("*") if path.is_file()}

    _seed(tmp_path, "--reset")

    assert {path: path.stat().st_mtime_ns for path in media_root.rglob("*") if path.is_file()} == written
