"""The chaos run at its quick size holds: nothing lost or doubled, every killed worker's work resumed within a minute.

``bench/chaos.py --quick`` starts its own PostgreSQL and Redis (the shared servers are never
touched), three worker processes, and kills, flushes, restarts and stops them under load.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos_services import POSTGRES_BIN

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.mark.timeout(420)
def test_the_quick_chaos_run_loses_nothing_doubles_nothing_and_recovers_within_a_minute() -> None:
    if not (POSTGRES_BIN / "initdb").exists() or shutil.which("redis-server") is None:
        pytest.skip(f"the chaos run needs PostgreSQL's binaries in {POSTGRES_BIN} and redis-server")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "chaos.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {figure["name"]: figure for figure in json.loads(done.stdout)}
    for name in (
        "messages lost",
        "messages integrated twice",
        "long tasks not DONE once",
        "memory versions that went down",
        "groups not evolved to their last topics",
        "workers crash-looping",
    ):
        assert figures[name]["value"] == 0, figures[name]
    for name in ("max recovery, topic updates", "max recovery, long tasks", "max recovery, evolutions"):
        assert figures[name]["met"] is not False and figures[name]["value"] < 60, figures[name]
    # The kills did interrupt work: a run where no kill hurt would prove nothing about recovery.
    assert "0 interrupted" not in figures["workers killed"]["note"], figures["workers killed"]
    assert figures["drain time after the last fault"]["met"] is True, figures[
        "drain time after the last fault"
    ]
