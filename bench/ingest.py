"""Ingest benchmark: per-row save() vs bulk_create vs COPY, and import_products vs raw COPY.

    .venv/bin/python bench/ingest.py [--products 100000] [--orders 333334] [--save-orders 1000]

Runs against a database of its own (`<name>_bench` on the stack's primary, created and migrated
here), never the development database. Prints a Markdown table and writes it to
bench/results/ingest.md. Every rate is rows per second, measured in this one run.
"""

import argparse
import csv
import io
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import bench_database_url, machine_line, save_results  # noqa: E402


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument(
        "--orders", type=int, default=333_334, help="orders for the bulk seed (about 3 items each)"
    )
    parser.add_argument("--bulk-orders", type=int, default=30_000)
    parser.add_argument("--save-orders", type=int, default=1_000)
    args = parser.parse_args()

    # A database of its own: this benchmark empties the shop, which the others read.
    os.environ["DATABASE_URL"] = bench_database_url(
        os.environ.get("BENCH_DATABASE_SUFFIX", "_bench") + "_ingest"
    )
    os.environ["REPLICA_DATABASE_URLS"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.local")
    os.environ["DEBUG"] = "false"  # no query log in memory
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.demo import DemoSizes, demo_seed, shop_reset
    from accounts.models import Customer, Order, OrderItem
    from catalog.importing import product_rows
    from catalog.models import Category, CategoryFacet, Product
    from catalog.selectors import category_ids_by_slug
    from catalog.services import products_import

    call_command("migrate", verbosity=0)
    rows = []  # (scenario, rows, seconds)

    # --- Orders and items: per-row save() vs bulk_create vs the seed's COPY path -------------
    with transaction.atomic():
        shop_reset()
    demo_seed(sizes=DemoSizes(categories=12, products=2_000, customers=5_000, orders=0, logins=0), seed=1)
    customers = list(Customer.objects.only("id"))
    products = list(Product.objects.only("id", "price"))
    rng = random.Random(1)

    def orders_with_items(count):
        for _ in range(count):
            lines = [(product, rng.randint(1, 3)) for product in rng.sample(products, 3)]
            total = sum((p.price * q for p, q in lines), Decimal(0))
            yield Order(customer=rng.choice(customers), status="paid", total=total), lines

    def per_row_save():
        with transaction.atomic():
            for order, lines in orders_with_items(args.save_orders):
                order.save()
                for product, quantity in lines:
                    OrderItem(
                        order=order, product=product, quantity=quantity, unit_price=product.price
                    ).save()

    def bulk_create():
        with transaction.atomic():
            pairs = list(orders_with_items(args.bulk_orders))
            Order.objects.bulk_create([order for order, _ in pairs], batch_size=5_000)
            OrderItem.objects.bulk_create(
                [
                    OrderItem(order=order, product=p, quantity=q, unit_price=p.price)
                    for order, lines in pairs
                    for p, q in lines
                ],
                batch_size=5_000,
            )

    rows.append(("orders + items, per-row save()", args.save_orders * 4, timed(per_row_save)))
    rows.append(("orders + items, bulk_create (batches of 5,000)", args.bulk_orders * 4, timed(bulk_create)))

    with transaction.atomic():
        shop_reset()
    seconds = timed(lambda: demo_seed(sizes=DemoSizes(orders=args.orders, logins=0), seed=1))
    seeded = (
        Order.objects.count() + OrderItem.objects.count() + Product.objects.count() + Customer.objects.count()
    )
    items = OrderItem.objects.count()
    rows.append((f"seed_demo, whole shop ({items:,} order items; COPY for orders)", seeded, seconds))

    # --- Products: import_products (COPY + upsert) vs raw COPY into a table of the same shape ---
    with transaction.atomic():
        shop_reset()
    categories = Category.objects.bulk_create([Category(name=f"Cat {n}", slug=f"cat-{n}") for n in range(10)])
    CategoryFacet.objects.bulk_create(
        CategoryFacet(category=c, key="color", label="Color") for c in categories
    )
    path = BASE_DIR / "var" / "bench-products.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "name", "category", "price", "stock", "details"])
        for n in range(args.products):
            details = {
                "color": rng.choice(["red", "blue", "green"]),
                "size": rng.choice("SML"),
                "specs": {"n": n},
            }
            writer.writerow(
                [
                    f"B-{n:07d}",
                    f"Bench product {n}",
                    f"cat-{n % 10}",
                    f"{rng.randint(100, 99999) / 100:.2f}",
                    rng.randint(0, 100),
                    json.dumps(details),
                ]
            )

    def import_file():
        result = products_import(rows=product_rows(path, categories=category_ids_by_slug()))
        assert result.written, result
        assert not result.rejected, result

    rows.append((f"import_products, {args.products:,} new products", args.products, timed(import_file)))
    rows.append((f"import_products again, {args.products:,} unchanged", args.products, timed(import_file)))

    def raw_copy():
        with transaction.atomic(), connection.cursor() as cursor:
            # A real table, like the import's target: WAL-logged and streamed to the replica.
            cursor.execute("CREATE TABLE bench_raw_copy (LIKE catalog_product INCLUDING ALL)")
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            with open(path, newline="") as handle:
                reader = csv.reader(handle)
                next(reader)
                for n, (sku, name, category, price, stock, details) in enumerate(reader):
                    writer.writerow(
                        [
                            sku,
                            f"bench-{n}",
                            name,
                            price,
                            stock,
                            "t",
                            details,
                            "2026-01-01",
                            "2026-01-01",
                            int(category[4:]) + 1,
                        ]
                    )
            buffer.seek(0)
            cursor.copy_expert(
                "COPY bench_raw_copy (sku, slug, name, price, stock, is_active, details, created, updated, "
                "category_id) FROM STDIN WITH (FORMAT csv)",
                buffer,
            )
            cursor.execute("DROP TABLE bench_raw_copy")

    rows.append(
        (
            f"raw COPY of the same {args.products:,} rows (same indexes, no checks)",
            args.products,
            timed(raw_copy),
        )
    )
    path.unlink()

    rates = {name: count / seconds for name, count, seconds in rows}
    copy_rate = rates[rows[-1][0]]
    figures = {
        "rows_per_second": rates,
        "import_new_vs_copy": rates[rows[3][0]] / copy_rate,
        "import_unchanged_vs_copy": rates[rows[4][0]] / copy_rate,
        "bulk_create_vs_save": rates[rows[1][0]] / rates[rows[0][0]],
    }
    save_results("ingest", render(rows, args), figures)


def render(rows, args) -> str:
    rates = {name: count / seconds for name, count, seconds in rows}
    save_rate = rows[0][1] / rows[0][2]
    copy_rate = rows[-1][1] / rows[-1][2]
    lines = [
        "# Ingest benchmark",
        "",
        f"Command: `.venv/bin/python bench/ingest.py {' '.join(sys.argv[1:])}`".rstrip(),
        machine_line(),
        "",
        "| scenario | rows | seconds | rows/s | vs per-row save() | vs raw COPY |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, count, seconds in rows:
        rate = rates[name]
        ratios = f"{rate / save_rate:.1f}x | {rate / copy_rate:.2f}"
        lines.append(f"| {name} | {count:,} | {seconds:.2f} | {rate:,.0f} | {ratios} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
