"""The example for other programs (``examples/chat_memory.py``) runs as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_python_example_records_reads_the_context_and_runs_a_long_task() -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("REDIS_", "POSTGRES_", "DATABASE_", "LLM_", "EMBEDDINGS_"))
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "chat_memory.py")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "recorded 5 messages" in done.stdout
    # The answer to "When did Maya adopt her dog?" is in the context, with the day it means.
    assert "I adopted a beagle yesterday [1 November 2026]" in done.stdout
    assert "long task memory.rebuild_group: DONE" in done.stdout
