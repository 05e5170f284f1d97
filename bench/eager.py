"""Eager loading benchmark: the shop's selectors vs a naive loop over the same rows.

    .venv/bin/python bench/eager.py [--runs 7]

On the benchmark database: a page of a customer's order history (20 orders with their items and
products) and a page of the catalog list (24 products), each read as the page reads it and as a
naive loop would (lazy relations, every column). Counts queries and times the median of the runs.
Writes bench/results/eager.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import bench_database_url, machine_line, save_results  # noqa: E402

ORDERS_PER_PAGE = 20
PRODUCTS_PER_PAGE = 24


def measure(read, runs: int) -> tuple[int, float, float, float]:
    """Return (queries, median ms, min ms, max ms) of `read()` over `runs` runs after a warm-up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    read()
    timings = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            read()
            timings.append((time.perf_counter() - started) * 1000)
    return len(queries), statistics.median(timings), min(timings), max(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.update(DATABASE_URL=bench_database_url(), REPLICA_DATABASE_URLS="", DEBUG="false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.local")
    import django

    django.setup()
    from django.db.models import Count

    from accounts.models import Customer, Order, User
    from accounts.selectors import orders_for_user
    from catalog.filters import ProductFilters
    from catalog.models import Category, Product
    from catalog.selectors import category_by_slug, products_for_listing

    customer = Customer.objects.annotate(n=Count("orders")).order_by("-n").first()
    if customer is None or customer.n == 0:
        sys.exit("the bench database has no orders: seed it first (make bench)")
    if customer.user is None:  # the order history is read through the customer's login
        customer.user, _ = User.objects.get_or_create(username=f"bench-eager-{customer.pk}")
        customer.save(update_fields=["user"])
    user = customer.user
    category = Category.objects.annotate(n=Count("products")).order_by("-n").first()

    shown = []  # what a page would render, so that every value is really read

    def history_selector():
        for order in orders_for_user(user=user)[:ORDERS_PER_PAGE]:
            for item in order.items.all():
                shown.append((item.product.name, item.quantity, item.subtotal))

    def history_naive():
        for order in Order.objects.filter(customer__user=user).order_by("-created")[:ORDERS_PER_PAGE]:
            for item in order.items.all():  # one query per order
                shown.append(
                    (item.product.name, item.quantity, item.quantity * item.unit_price)
                )  # one per item

    def listing_selector():
        info = category_by_slug(category.slug)
        for product in products_for_listing(category=info, filters=ProductFilters())[:PRODUCTS_PER_PAGE]:
            shown.append((product.name, product.slug, product.price, product.stock))

    def listing_naive():
        products = Product.objects.filter(category=category, is_active=True).order_by("price", "id")
        for product in products[:PRODUCTS_PER_PAGE]:  # every column, details included
            shown.append((product.name, product.price, product.category.name))  # a query each

    scenarios = [
        ("order history page (20 orders)", history_selector, history_naive),
        ("catalog list page (24 products)", listing_selector, listing_naive),
    ]
    rows = []
    for name, selector, naive in scenarios:
        rows.append((name, measure(selector, args.runs), measure(naive, args.runs)))

    lines = [
        "# Eager loading benchmark",
        "",
        f"Command: `.venv/bin/python bench/eager.py --runs {args.runs}`",
        machine_line(),
        f"Data: {Order.objects.count():,} orders; the customer with the most orders ({customer.n}); "
        f"the largest category ({category.n} products). Median (min-max) of {args.runs} runs.",
        "",
        "| page | selector queries | selector ms | naive queries | naive ms | naive / selector time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    figures = {}
    for name, (q1, med1, lo1, hi1), (q2, med2, lo2, hi2) in rows:
        lines.append(
            f"| {name} | {q1} | {med1:.2f} ({lo1:.2f}-{hi1:.2f}) | {q2} | {med2:.2f} ({lo2:.2f}-{hi2:.2f}) "
            f"| {med2 / med1:.1f}x |"
        )
        figures[name] = {"selector_queries": q1, "naive_queries": q2, "selector_ms": med1, "naive_ms": med2}
    lines += [
        "",
        "The selectors use `prefetch_related(Prefetch(... select_related ... only()))` for the history",
        "and `only()` of the covering index's columns for the list; the naive loops touch lazy relations.",
    ]
    save_results("eager", "\n".join(lines) + "\n", figures)


if __name__ == "__main__":
    main()
