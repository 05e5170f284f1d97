"""`make bench` at a tiny scale, one iteration of each scenario: the benchmarks cannot rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.integration

SCENARIOS = ["ingest", "eager", "reports", "web", "replicas", "refresh_load"]


def test_every_benchmark_runs_and_the_summary_checks_every_goal(tmp_path):
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "DJANGO_SETTINGS"))
    }

    result = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--output-dir", str(tmp_path)],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    latest = (tmp_path / "latest.md").read_text()
    assert "## Goals" in latest
    assert latest.count("| yes |") + latest.count("| **no** |") == 8
    for scenario in SCENARIOS:
        assert (tmp_path / f"{scenario}.md").exists(), scenario
    assert "| the customer (router, signed WAL-position cookie) | 0 of 10 |" in latest
    # The smoke run wrote only into its own folder and database.
    assert not (tmp_path.parent / "latest.md").exists()
