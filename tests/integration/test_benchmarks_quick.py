"""Every benchmark script runs at ``--quick`` and reports figures in the shared JSON shape.

Speed is never asserted here (that is what ``make bench`` and docs/BENCHMARKS.md are for): this
only proves that each script still runs against the real services and says what it measured.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run_all import SCRIPTS
from tests.support.redis_space import redis_test_url

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"name", "value", "unit", "baseline", "ratio", "target", "met", "note"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_script_runs_quick_and_reports_figures(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TEST_REDIS_URL": redis_test_url()},
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures, f"bench/{name}.py reported no figure"
    for figure in figures:
        assert set(figure) == KEYS, figure
        assert isinstance(figure["name"], str) and figure["name"]
        assert isinstance(figure["value"], int | float) and math.isfinite(figure["value"]), figure
        if figure["baseline"]:
            assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"], rel=1e-3)
