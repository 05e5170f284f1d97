"""`manage.py cache_bump NAMESPACE ...`: move cache namespaces to a new version by hand.

For when a write's own bump failed (Redis down or paused: the write's command or log said so).
Generic, for every namespace of the shop: it lives in catalog, the app every other builds on,
since the cache layer (shopsite.caching) is not an app.
"""

from django.core.management.base import BaseCommand, CommandError

from shopsite.caching.versioned import NAMESPACES, NamespaceBumpFailed, namespace_bump


class Command(BaseCommand):
    help = (
        "Move cache namespaces to a new version, so that every entry cached before is stale "
        f"(namespaces: {', '.join(NAMESPACES)}). Exits 1 if Redis cannot be reached."
    )

    def add_arguments(self, parser):
        parser.add_argument("namespaces", nargs="+", metavar="NAMESPACE", help=", ".join(NAMESPACES))

    def handle(self, *args, namespaces: list[str], **options):
        unknown = [name for name in namespaces if name not in NAMESPACES]
        if unknown:
            names, known = ", ".join(map(repr, unknown)), ", ".join(NAMESPACES)
            raise CommandError(f"unknown cache namespace {names}: choose from {known}")
        failed = []
        for namespace in dict.fromkeys(namespaces):  # each once, in the order given
            try:
                version = namespace_bump(namespace)
            except NamespaceBumpFailed as failure:
                self.stderr.write(str(failure))
                failed.append(namespace)
                continue
            self.stdout.write(self.style.SUCCESS(f"{namespace}: bumped to version {version}"))
        if failed:
            raise CommandError(f"not bumped: {', '.join(failed)}")
