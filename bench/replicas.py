"""Replica benchmark: the share of SELECTs the replicas serve under a browse-and-checkout mix, and
stale own-write reads while the replicas do not replay at all.

    .venv/bin/python bench/replicas.py [--requests 2000] [--trials 1000]

Runs in-process (Django's test Client, the real middleware and router) against the stack's
primary and replicas, in a database of its own (`<name>_bench`, seeded here with a small shop
if it is empty). SELECTs are counted per alias by an execute wrapper on every connection: exactly
the statements the application sent. Writes a Markdown table to bench/results/replicas.md.
"""

import argparse
import os
import random
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "bench"))
sys.path.insert(0, str(BASE_DIR))

from common import bench_database_url, machine_line, replica_urls, save_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2_000, help="requests of the browse mix")
    parser.add_argument("--trials", type=int, default=1_000, help="write-then-read trials with replay paused")
    args = parser.parse_args()

    url = bench_database_url()
    replicas = replica_urls(url)
    if not replicas:
        sys.exit("bench/replicas.py needs the stack's replicas (REPLICA_DATABASE_URLS)")
    os.environ.update(DATABASE_URL=url, REPLICA_DATABASE_URLS=replicas, DEBUG="false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts.demo import delivery_options_seed, shop_is_empty
    from accounts.models import Address, Customer, User
    from catalog.models import Category, Product

    setup_test_environment()  # the test Client's cookies and ALLOWED_HOSTS "testserver"
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    if shop_is_empty():
        call_command("seed_demo", "--orders", "20000", "--logins", "0", verbosity=0)
    rng = random.Random(5)
    first_facets = _first_choice_facets(Category)
    categories = [
        (slug, first_facets.get(slug, [])) for slug in Category.objects.values_list("slug", flat=True)
    ]
    products = list(Product.objects.filter(is_active=True, stock__gt=1000).values_list("pk", "slug")[:200])
    if len(products) < 50:  # plenty of stock, so checkouts never run out during the run
        Product.objects.filter(is_active=True).update(stock=1_000_000)
        products = list(Product.objects.filter(is_active=True).values_list("pk", "slug")[:200])
    delivery_options_seed()  # a shop seeded before checkout asked for a delivery has none
    buyers = _buyers(User, Customer, Address, 50)
    aliases = ["default", *settings.REPLICA_ALIASES]

    # --- Browse mix: 80% category pages with filters, 15% product pages, 5% checkouts --------
    selects: Counter = Counter()  # (kind of request, alias) -> SELECTs
    kind = ["browse"]  # what the request being made is, for the counter
    statuses: Counter = Counter()
    browsers = [Client() for _ in range(20)]
    shoppers = [_logged_in(Client(), user) for user in buyers]
    started = time.perf_counter()
    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(connections[alias].execute_wrapper(_count_selects(selects, kind, alias)))
        for _ in range(args.requests):
            roll = rng.random()
            kind[0] = "browse" if roll < 0.95 else "checkout"
            if roll < 0.80:
                slug, facets = rng.choice(categories)
                query = {facet: rng.choice(["red", "blue", "M", "L", "Northwind"]) for facet in facets[:1]}
                query["sort"] = rng.choice(["price", "-price", "name", "new"])
                response = rng.choice(browsers).get(f"/c/{slug}/", query)
            elif roll < 0.95:
                response = rng.choice(browsers).get(f"/p/{rng.choice(products)[1]}/")
            else:
                shopper = rng.choice(shoppers)
                shopper.post("/cart/add/", {"product_id": rng.choice(products)[0], "quantity": 1})
                response = _place_order(shopper)
            statuses[response.status_code] += 1
    mix_seconds = time.perf_counter() - started

    # --- Read-your-writes with replay paused: order, then read the order history -------------
    stale = {"router": 0, "without the cookie": 0}
    for alias in settings.REPLICA_ALIASES:
        _sql(connections[alias], "SELECT pg_wal_replay_pause()")
    try:
        for trial in range(args.trials):
            shopper = shoppers[trial % len(shoppers)]
            shopper.post("/cart/add/", {"product_id": rng.choice(products)[0], "quantity": 1})
            placed = _place_order(shopper)
            order_path = placed["Location"]
            number = "#" + order_path.rstrip("/").rsplit("/", 1)[1]
            if number not in shopper.get("/account/orders/").content.decode():
                stale["router"] += 1
            # The same read by a client that forgot its last write's position: the negative control.
            forgetful = Client()
            forgetful.cookies = shopper.cookies.__class__(shopper.cookies)
            forgetful.cookies.pop(settings.READ_YOUR_WRITES_COOKIE, None)
            if trial < 100 and number not in forgetful.get("/account/orders/").content.decode():
                stale["without the cookie"] += 1
    finally:
        for alias in settings.REPLICA_ALIASES:
            _sql(connections[alias], "SELECT pg_wal_replay_resume()")

    browse = {alias: selects["browse", alias] for alias in aliases}
    figures = {
        "browse_selects_on_replicas": sum(n for alias, n in browse.items() if alias != "default")
        / max(sum(browse.values()), 1),
        "stale_own_write_reads": stale["router"],
        "trials": args.trials,
        "stale_without_cookie": stale["without the cookie"],
    }
    save_results("replicas", _render(args, selects, aliases, statuses, mix_seconds, stale), figures)


def _buyers(User, Customer, Address, count):
    users = []
    for n in range(count):
        user, created = User.objects.get_or_create(
            username=f"bench-buyer-{n}", defaults={"email": f"b{n}@bench.test"}
        )
        if created:
            user.set_password("bench-password-not-secret")
            user.save()
        customer, _ = Customer.objects.get_or_create(
            user=user, defaults={"name": f"Buyer {n}", "email": f"bench-buyer-{n}@bench.test"}
        )
        Address.objects.get_or_create(
            customer=customer,
            is_default=True,
            defaults={
                "name": customer.name,
                "line1": f"{n + 1} Bench Road",
                "city": "Leeds",
                "postcode": "LS1 4AP",
                "country": "United Kingdom",
            },
        )
        users.append(user)
    return users


def _logged_in(client, user):
    client.force_login(user)
    return client


def _place_order(shopper):
    """Open the checkout page and submit it, as "Place order" does: with the page's confirmation,
    and the address and delivery it preselected."""
    page = shopper.get("/checkout/")
    return shopper.post(
        "/checkout/", {"confirmation": page.context["confirmation"], **page.context["selected"]}
    )


def _count_selects(counter, kind, alias):
    def wrapper(execute, sql, params, many, context):
        if sql.lstrip(" (").upper().startswith("SELECT"):
            counter[kind[0], alias] += 1
        return execute(sql, params, many, context)

    return wrapper


def _sql(connection, sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _render(args, selects, aliases, statuses, seconds, stale) -> str:
    lines = [
        "# Replica benchmark",
        "",
        f"Command: `.venv/bin/python bench/replicas.py {' '.join(sys.argv[1:])}`".rstrip(),
        machine_line(),
        "",
        f"## Browse mix: {args.requests:,} requests in {seconds:.1f}s",
        "",
        "80% category pages with a filter and a sort, 15% product pages, 5% checkouts.",
        "",
        f"Status codes: {dict(sorted(statuses.items()))}.",
        "",
        "| requests | " + " | ".join(aliases) + " | on replicas |",
        "|---|" + "---:|" * (len(aliases) + 1),
    ]
    for kinds, label in [
        (["browse"], "browse (category, product)"),
        (["checkout"], "checkout (cart add, checkout page, place order)"),
        (["browse", "checkout"], "all"),
    ]:
        counts = {alias: sum(selects[kind, alias] for kind in kinds) for alias in aliases}
        total = sum(counts.values()) or 1
        replicas = sum(count for alias, count in counts.items() if alias != "default")
        cells = " | ".join(f"{counts[alias]:,}" for alias in aliases)
        lines.append(f"| {label} | {cells} | **{replicas / total:.1%}** |")
    lines += [
        "",
        "Checkout requests write, so their reads (and the next requests of that client, until the",
        "replicas replay the write) go to the primary by design.",
        "",
        f"## Read-your-writes: {args.trials:,} checkouts, each followed by the order history, replay paused",
        "",
        "| reader | stale reads |",
        "|---|---:|",
        f"| the customer (router, signed WAL-position cookie) | {stale['router']} of {args.trials:,} |",
        f"| the same customer without the cookie (control, first 100) | {stale['without the cookie']} of "
        f"{min(100, args.trials)} |",
    ]
    return "\n".join(lines) + "\n"


def _first_choice_facets(Category) -> dict[str, list[str]]:
    """Return each category's first choice facet's key, in a list (empty when it has none)."""
    facets: dict[str, list[str]] = {}
    for slug, key in (
        Category.objects.filter(facets__kind="choice")
        .order_by("id", "facets__position", "facets__id")
        .values_list("slug", "facets__key")
    ):
        facets.setdefault(slug, [key])
    return facets


if __name__ == "__main__":
    main()
