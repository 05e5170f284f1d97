"""`make bench` at a tiny scale, one iteration of each scenario: the benchmarks cannot rot.

It checks that every benchmark ran and measured what it reports (its figures are there and sane)
and that the summary measured every goal, never that a goal is met: goals are for `make bench` at
full scale, and a smoke run on a busy machine measures noise.
"""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

SCENARIOS = [
    "ingest",
    "eager",
    "reports",
    "web",
    "replicas",
    "refresh_load",
    "topology",
    "async_io",
    "search",
]
GOALS = [
    "journey mix vs hello world (16 visitors with cookies)",
    "p99 of the journey mix, 16 connections",
    "rendered category page (cache miss) vs hello world",
    "rendered product page (cache miss) vs hello world",
    "warm dashboard: queries (the user's only)",
    "live aggregate vs its view (sales_daily)",
    "routine refresh (the recent days; nothing else changed)",
    "cold dashboard, a one-year range: server time",
    "import path vs raw COPY (new products)",
    "browse SELECTs on the replicas",
    "stale own-write reads, replay paused",
    "page p95 during routine refreshes back to back",
    "server backends per server, many workers through PgBouncer",
    "visitors served with 12 slow clients, behind nginx",
    "async vs its sync twin, +20 ms to the database, 256 connections",
    "async vs its sync twin, loopback, 8 connections",
]
SMOKE_TRIALS = 10  # bench/run.py's SMOKE["replicas"]
RESULTS = Path(settings.BASE_DIR) / "bench" / "results"


def positive(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def count(value, *, at_least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= at_least


def results_of_make_bench() -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_mtime_ns, path.stat().st_size) for path in RESULTS.glob("*")}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    """Run `bench/run.py --smoke` once into a folder of its own; return the folder."""
    output = tmp_path_factory.mktemp("bench") / "results"
    before = results_of_make_bench()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "DJANGO_SETTINGS"))
    }
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--output-dir", str(output)],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert results_of_make_bench() == before, "the smoke run wrote into bench/results"
    return output


def figures(output: Path, scenario: str) -> dict:
    return json.loads((output / f"{scenario}.json").read_text())


def test_every_benchmark_wrote_its_report_and_figures(smoke_run):
    for scenario in SCENARIOS:
        assert "Machine: " in (smoke_run / f"{scenario}.md").read_text(), scenario
        assert figures(smoke_run, scenario), scenario


def test_the_summary_gives_each_goal_a_measured_value(smoke_run):
    latest = (smoke_run / "latest.md").read_text()
    goals_table = latest.split("## Goals", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in goals_table.splitlines():
        if line.startswith("| ") and not line.startswith(("| goal |", "|---")):
            name, measured, target, met = (cell.strip() for cell in line.strip("|").split(" | "))
            rows[name] = (measured, target, met)

    assert list(rows) == GOALS
    for name, (measured, target, met) in rows.items():
        assert re.search(r"\d", measured), (name, measured)
        assert not re.search(r"nan|inf", measured), (name, measured)
        assert target, name
        assert met in ("yes", "**no**"), name  # met or not: a smoke run measures noise


def test_ingest_measured_a_rate_for_each_path(smoke_run):
    ingest = figures(smoke_run, "ingest")

    assert len(ingest["rows_per_second"]) == 6
    assert all(positive(rate) for rate in ingest["rows_per_second"].values()), ingest["rows_per_second"]
    for ratio in ("import_new_vs_copy", "import_unchanged_vs_copy", "bulk_create_vs_save"):
        assert positive(ingest[ratio]), ratio


def test_eager_timed_and_counted_the_queries_of_each_page_both_ways(smoke_run):
    eager = figures(smoke_run, "eager")

    assert len(eager) == 2  # the order history, the catalog list
    for page, measured in eager.items():
        assert count(measured["selector_queries"], at_least=1), page
        assert count(measured["naive_queries"], at_least=1), page
        assert positive(measured["selector_ms"]), page
        assert positive(measured["naive_ms"]), page


def test_reports_timed_the_dashboard_the_live_aggregate_and_every_refresh(smoke_run):
    reports = figures(smoke_run, "reports")

    assert reports["orders"] >= 3_000  # bench/run.py's smoke scale
    assert positive(reports["live_vs_view_sales_daily"])
    assert set(reports["dashboard_ms"]) == set(reports["dashboard_queries"])
    assert len(reports["dashboard_ms"]) == 6  # two ranges, three ways each
    assert all(positive(ms) for ms in reports["dashboard_ms"].values()), reports["dashboard_ms"]
    assert all(count(n) for n in reports["dashboard_queries"].values()), reports["dashboard_queries"]
    assert reports["warm_queries"] == 1  # the user: every block from Redis
    assert positive(reports["cold_one_year_ms"])
    for refresh in ("routine_refresh_ms", "rebuild_ms"):
        assert positive(reports[refresh]), refresh
    assert len(reports["changed_refresh_ms"]) == 2
    assert all(positive(ms) for ms in reports["changed_refresh_ms"].values())


def test_web_loaded_every_page_without_a_failed_request(smoke_run):
    web = figures(smoke_run, "web")
    table = (smoke_run / "web.md").read_text()

    assert positive(web["ceiling_rps"])
    # the ceiling; home, category and product pages four ways each; the dashboard
    assert len(web["share_of_ceiling"]) == 14
    assert all(positive(share) for share in web["share_of_ceiling"].values()), web["share_of_ceiling"]
    assert web["share_of_ceiling"]["hello world (ceiling)"] == 1
    # Requests/s of a page answering errors would measure the errors: its row counts them.
    for page in web["share_of_ceiling"]:
        (row,) = (line for line in table.splitlines() if line.startswith(f"| {page} (HTTP "))
        assert row.startswith(f"| {page} (HTTP 200)"), row
        assert row.endswith("| 0 | 0 |"), row  # no non-2xx answer, no socket error


def test_web_ran_the_journey_mix_and_every_kind_of_visitor_was_served(smoke_run):
    journeys = figures(smoke_run, "web")["journeys"]
    counts = journeys["counts"]

    assert positive(journeys["rps"])
    assert positive(journeys["share_of_ceiling"])
    assert positive(journeys["p99_ms"])
    assert {"browse", "cart"} <= set(counts["journeys"])  # the two most frequent kinds of visitor
    assert {"home", "category", "product", "cart"} <= set(counts["requests"])
    assert counts["hits"], counts  # pages came from the page cache to visitors with cookies
    # Every answer was a page or a redirect after a form: no form was refused, nothing failed.
    assert set(counts["statuses"]) <= {"200", "303"}, counts["statuses"]


def test_replicas_counted_the_browse_selects_and_every_trial(smoke_run):
    replicas = figures(smoke_run, "replicas")

    assert 0 <= replicas["browse_selects_on_replicas"] <= 1
    assert replicas["trials"] == SMOKE_TRIALS
    assert count(replicas["stale_own_write_reads"])
    assert replicas["stale_own_write_reads"] <= SMOKE_TRIALS
    assert count(replicas["stale_without_cookie"])
    assert replicas["stale_without_cookie"] <= SMOKE_TRIALS


def test_refresh_load_measured_the_page_before_and_during_a_refresh(smoke_run):
    refresh = figures(smoke_run, "refresh_load")

    assert len(refresh["p95_changes"]) == 1  # one run
    assert all(math.isfinite(change) and change > -1 for change in refresh["p95_changes"])
    assert refresh["p95_change"] == refresh["p95_changes"][0]
    for unloaded in ("refresh_ms_unloaded", "refresh_ms_under_load", "refresh_ms_unloaded_server_defaults"):
        assert positive(refresh[unloaded]), unloaded
    for cpu in ("cpu_before", "cpu_during", "cpu_during_server_defaults"):
        assert refresh[cpu], cpu
        assert all(seconds >= 0 for seconds in refresh[cpu].values()), cpu
    assert refresh["errors"] == 0  # the page answered all along


def test_topology_compared_the_pooler_with_direct_connections_and_nginx_with_gunicorn_alone(smoke_run):
    topology = figures(smoke_run, "topology")

    assert [row["setup"] for row in topology["pool"]] == ["PgBouncer", "direct"]
    for row in topology["pool"]:
        assert positive(row["rps"]), row
        assert row["non_2xx"] == row["errors"] == 0, row
        assert set(row["backends"]) == {
            "primary",
            *(f"replica {n}" for n in range(1, len(settings.REPLICA_ALIASES) + 1)),
        }
    assert [row["setup"] for row in topology["storm"]] == ["PgBouncer", "direct"]
    assert all(positive(row["connections_per_s"]) for row in topology["storm"])
    assert topology["storm"][0]["failed"] == 0  # 20 clients: neither pools nor max_connections run out
    assert set(topology["slow_clients_answered"]) == {"gunicorn alone", "behind nginx"}


def test_async_io_measured_both_twins_at_each_latency_and_concurrency(smoke_run):
    cells = figures(smoke_run, "async_io")["cells"]
    assert [(cell["rtt_ms"], cell["connections"]) for cell in cells] == [(0, 8), (0, 256), (20, 8), (20, 256)]
    for cell in cells:
        assert positive(cell["async"]["rps"]), cell
        assert cell["async"]["non_2xx"] == 0, cell
        assert cell["sync"]["non_2xx"] == 0, cell
    # On loopback both twins answer: the sync one is slow only when the database is far.
    assert all(positive(cell["sync"]["rps"]) for cell in cells if cell["rtt_ms"] == 0)


def test_search_measured_every_search_each_way_without_a_failed_request(smoke_run):
    search = figures(smoke_run, "search")

    assert search["products"] == 3_000  # bench/run.py's SMOKE["search"]
    assert set(search["searches"]) == {
        "a word",
        "two words",
        "a typo (two letters swapped)",
        "a partial word",
    }
    for name, measured in search["searches"].items():
        assert count(measured["results"], at_least=1), name  # every search finds products, the typo too
        for way in ("page cache hit", "rendered, summary cached", "nothing cached"):
            assert positive(measured[way]["rps"]), (name, way)
            assert positive(measured[way]["p99_ms"]), (name, way)
            assert measured[way]["non_2xx"] == measured[way]["errors"] == 0, (name, way)
