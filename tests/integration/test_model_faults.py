"""A model that misbehaves on a schedule (``bench/model_faults.py``): every fault is retried,
recorded and shown, memory stays untouched, messages stay pending, and the groups are served
again once the model behaves. ``tests/integration/test_openai_updates.py`` covers each failure
in-process; this runs them all at once through a real worker process and the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.redis_space import redis_test_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
def test_each_scheduled_model_fault_is_retried_recorded_and_the_group_served_again() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "model_faults.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TEST_REDIS_URL": redis_test_url()},
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {figure["name"]: figure for figure in json.loads(done.stdout)}
    assert figures["model faults handled as designed"]["value"] == 7, figures[
        "model faults handled as designed"
    ]
    for figure in figures.values():
        assert figure["met"] is True, figure
