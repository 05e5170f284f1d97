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
import platform
import random
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def bench_database_url() -> str:
    """Create `<database>_bench` next to the configured database, and return its URL."""
    import environ
    import psycopg2

    environ.Env.read_env(BASE_DIR / "var" / "stack.env")
    url = os.environ["DATABASE_URL"]
    config = environ.Env.db_url_config(url)
    name = f"{config['NAME']}_bench"
    admin = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"],
        host=config["HOST"],
        port=config["PORT"],
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return url.rsplit("/", 1)[0] + "/" + name


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

    os.environ["DATABASE_URL"] = bench_database_url()
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
    from catalog.models import Category, Product
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
    Category.objects.bulk_create(
        [Category(name=f"Cat {n}", slug=f"cat-{n}", facets=["color"]) for n in range(10)]
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

    report = render(rows, args)
    print(report)
    (BASE_DIR / "bench" / "results").mkdir(exist_ok=True)
    (BASE_DIR / "bench" / "results" / "ingest.md").write_text(report)


def machine_line() -> str:
    """Return one line naming the machine, the database and Redis versions, and the commit."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
    redis_version = next((word[2:] for word in redis if word.startswith("v=")), "unknown")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"Machine: {os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, PostgreSQL {pg_version}, Redis {redis_version}, "
        f"commit {_commit()}"
    )


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


def _commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BASE_DIR
    )
    return result.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
