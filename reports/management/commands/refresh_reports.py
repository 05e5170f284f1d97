"""Refresh the report views: `manage.py refresh_reports [--view NAME ...] [--no-concurrently]`."""

import time

from django.core.management.base import BaseCommand, CommandError

from reports.services import RefreshAlreadyRunning, UnknownView, reports_refresh, view_name, view_names
from shopsite.caching.versioned import failed_bumps_collected

# EX_TEMPFAIL from sysexits.h: nothing is wrong, try again later (cron can tell it from a failure).
EXIT_REFRESH_RUNNING = 75


class Command(BaseCommand):
    help = (
        "Refresh the report views in dependency order, concurrently when populated, one refresher "
        f"at a time. Exits {EXIT_REFRESH_RUNNING} at once when another refresh is running; exits 1, "
        "after the refresh, if the dashboard cache could not be bumped (then run "
        "`manage.py cache_bump dashboard`)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--view",
            action="append",
            dest="views",
            metavar="NAME",
            help=f"refresh only this view (repeatable): {', '.join(_short(name) for name in view_names())}",
        )
        parser.add_argument(
            "--no-concurrently",
            action="store_false",
            dest="concurrently",
            help="refresh plainly: faster, but readers of each view wait until the refresh commits",
        )

    def handle(self, *args, views, concurrently, **options):
        try:
            chosen = [view_name(name) for name in views] if views else None
        except UnknownView as unknown:
            valid = ", ".join(_short(name) for name in view_names())
            raise CommandError(f"unknown view {unknown.name!r}: choose from {valid}") from None
        clock = time.perf_counter()
        try:
            with failed_bumps_collected() as failed_bumps:
                refreshed = reports_refresh(views=chosen, concurrently=concurrently)
        except RefreshAlreadyRunning:
            raise CommandError(
                "another refresh is running: nothing refreshed", returncode=EXIT_REFRESH_RUNNING
            ) from None
        for done in refreshed:
            how = "concurrently" if done.concurrently else "plainly"
            milliseconds = done.duration.total_seconds() * 1000
            self.stdout.write(f"{done.view}: refreshed {how} in {milliseconds:.0f} ms, {done.rows} rows")
        self.stdout.write(
            self.style.SUCCESS(f"Refreshed {len(refreshed)} views in {time.perf_counter() - clock:.2f} s")
        )
        if failed_bumps:
            # The views are refreshed; the dashboard would show the old figures until its blocks expire.
            raise CommandError("\n".join(str(failure) for failure in failed_bumps))


def _short(view: str) -> str:
    return view.removeprefix("reports_")
