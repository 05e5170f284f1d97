"""Bring the reports up to today: `manage.py refresh_reports [--no-concurrently] [--rebuild]`."""

import time

from django.core.management.base import BaseCommand, CommandError

from reports.services import CLOSED_DAYS_LOG, RefreshAlreadyRunning, reports_refresh
from shopsite.caching.versioned import failed_bumps_collected

# EX_TEMPFAIL from sysexits.h: nothing is wrong, try again later (cron can tell it from a failure).
EXIT_REFRESH_RUNNING = 75


class Command(BaseCommand):
    help = (
        "Count the recent days and the days whose orders changed, close the days that leave the "
        "recent layer, one refresher at a time. Run daily, after midnight UTC. Exits "
        f"{EXIT_REFRESH_RUNNING} at once when another refresh is running; exits 1, after the "
        "refresh, if the dashboard cache could not be bumped (then run `manage.py cache_bump dashboard`)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-concurrently",
            action="store_false",
            dest="concurrently",
            help="refresh the views plainly: faster, but their readers wait until the refresh commits",
        )
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="empty the closed days and count all history again (after orders were changed "
            "other than through the shop, by SQL or a restore)",
        )

    def handle(self, *args, concurrently, rebuild, **options):
        clock = time.perf_counter()
        try:
            with failed_bumps_collected() as failed_bumps:
                refreshed = reports_refresh(concurrently=concurrently, rebuild=rebuild)
        except RefreshAlreadyRunning:
            raise CommandError(
                "another refresh is running: nothing refreshed", returncode=EXIT_REFRESH_RUNNING
            ) from None
        for done in refreshed:
            milliseconds = done.duration.total_seconds() * 1000
            if done.view == CLOSED_DAYS_LOG:
                self.stdout.write(f"closed days: {done.rows} rows copied in {milliseconds:.0f} ms")
                continue
            how = "concurrently" if done.concurrently else "plainly"
            self.stdout.write(f"{done.view}: refreshed {how} in {milliseconds:.0f} ms, {done.rows} rows")
        self.stdout.write(self.style.SUCCESS(f"Refreshed the reports in {time.perf_counter() - clock:.2f} s"))
        if failed_bumps:
            # The reports are refreshed; the dashboard would show the old figures until its blocks expire.
            raise CommandError("\n".join(str(failure) for failure in failed_bumps))
