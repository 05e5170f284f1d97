"""`manage.py seed_demo`: fill the shop with deterministic demo data, in bulk."""

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.demo import DemoSizes, ShopNotEmpty, demo_seed, shop_is_empty
from shopsite.caching.versioned import failed_bumps_collected


class Command(BaseCommand):
    help = "Seed categories, products, customers and orders (with items) for a demo or a benchmark."

    def add_arguments(self, parser):
        defaults = DemoSizes()
        parser.add_argument("--seed", type=int, default=1, help="random seed: the same seed, the same data")
        parser.add_argument("--categories", type=_count, default=defaults.categories)
        parser.add_argument("--products", type=_count, default=defaults.products)
        parser.add_argument("--customers", type=_count, default=defaults.customers)
        parser.add_argument("--orders", type=_count, default=defaults.orders)
        parser.add_argument("--logins", type=_count, default=defaults.logins, help="customers given a login")
        parser.add_argument("--reset", action="store_true", help="delete the shop's data first")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing (and succeed) if the shop has data"
        )
        parser.add_argument(
            "--logins-file",
            type=Path,
            default=Path(settings.BASE_DIR) / "var" / "demo-logins.txt",
            help="where the generated passwords are written",
        )

    def handle(self, *args, **options):
        if options["if_empty"] and not options["reset"] and not shop_is_empty():
            self.stdout.write("The shop already has data: not seeding.")
            return
        sizes = DemoSizes(
            categories=max(options["categories"], 1),
            products=options["products"],
            customers=options["customers"],
            orders=options["orders"],
            logins=min(options["logins"], options["customers"]),
        )
        with tqdm(
            total=sizes.orders, unit=" orders", disable=not sys.stderr.isatty(), file=sys.stderr
        ) as bar:

            def progress(stage: str, n: int) -> None:
                if stage == "orders":
                    bar.update(n)

            try:
                with failed_bumps_collected() as failed_bumps:
                    result = demo_seed(
                        sizes=sizes, seed=options["seed"], reset=options["reset"], progress=progress
                    )
            except ShopNotEmpty as error:
                raise CommandError(str(error)) from None

        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.categories} categories, {result.products} products, "
                f"{result.customers} customers, {result.orders} orders with {result.items} items."
            )
        )
        logins_file: Path = options["logins_file"]
        logins_file.parent.mkdir(parents=True, exist_ok=True)
        # Private from the start; a file that existed is made private too, never a device such
        # as /dev/null (making that 0600 breaks every other user's programs).
        with os.fdopen(os.open(logins_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write("".join(f"{user} {password}\n" for user, password in result.logins.items()))
        if logins_file.is_file():
            logins_file.chmod(0o600)
        self.stdout.write(f"Logins: {', '.join(result.logins)}; passwords in {logins_file}")
        if failed_bumps:
            # The shop is seeded; cached pages would show the catalog before it until they expire.
            raise CommandError("\n".join(str(failure) for failure in failed_bumps))


def _count(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value
