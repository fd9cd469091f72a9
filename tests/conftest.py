"""Shared test configuration.

With ``AI_WORKER_REQUIRE_SERVICES=1`` (set by CI) an integration test that skips because
PostgreSQL or Redis is unreachable fails instead: CI must not pass without them.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

# A developer's .env (copied from .env.example) must not point the tests, or the ai-worker
# processes they start (which inherit this environment), at that developer's servers. Set
# before any test module imports the settings, which read it when they are defined.
os.environ["AI_WORKER_ENV_FILE"] = ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    required = os.environ.get("AI_WORKER_REQUIRE_SERVICES") == "1"
    if required and report.skipped and "integration" in str(item.path):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"integration test skipped while services are required: {reason}"
