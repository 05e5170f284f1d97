"""`manage.py import_products FILE`: upsert products by sku from a .csv or .jsonl file."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.importing import ProductFileError, product_rows
from catalog.selectors import category_ids_by_slug
from catalog.services import MAX_REPORTED_ERRORS, products_import
from shopsite.caching.versioned import failed_bumps_collected


class Command(BaseCommand):
    help = (
        "Import products from a .csv (JSON `details` column) or .jsonl file, upserting by sku. "
        "Columns: sku, name, category (slug), price, stock, details; optional slug, is_active. "
        "A file with any bad row writes nothing unless --skip-invalid. Exits 1, after the import, "
        "if the catalog cache could not be bumped (then run `manage.py cache_bump catalog`)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--skip-invalid", action="store_true", help="import the good rows, report the rest"
        )
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    def handle(self, *args, file: Path, skip_invalid: bool, dry_run: bool, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        rows = product_rows(file, categories=category_ids_by_slug())
        with tqdm(unit=" rows", desc="importing", disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
            try:
                with failed_bumps_collected() as failed_bumps:
                    result = products_import(
                        rows=rows, skip_invalid=skip_invalid, dry_run=dry_run, progress=bar.update
                    )
            except ProductFileError as error:
                raise CommandError(str(error)) from None

        for error in result.errors:
            self.stderr.write(f"{file.name}: {error}")
        if result.rejected > len(result.errors):
            self.stderr.write(f"... and {result.rejected - MAX_REPORTED_ERRORS} more bad lines")

        counts = (
            f"{result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.rejected} rejected"
        )
        if result.rejected and not skip_invalid:
            raise CommandError(
                f"{result.rejected} bad lines: nothing written. "
                "Fix them, or import the good rows with --skip-invalid."
            )
        if dry_run:
            self.stdout.write(f"Dry run, nothing written: would be {counts}")
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported {file.name}: {counts}"))
        if failed_bumps:
            # The products are written; the pages would show the old ones until their entries expire.
            raise CommandError("\n".join(str(failure) for failure in failed_bumps))
