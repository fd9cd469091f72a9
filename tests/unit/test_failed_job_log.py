"""A failed job's log: the error and where it happened, never the frames' local variables."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from arq import func
from arq.worker import Worker

from adapters.redis.connection import open_embedded_pool
from adapters.redis.serialization import deserialize, serialize
from entrypoints.logging_setup import configure_logging
from entrypoints.settings import Settings

CHAT_TEXT = "Maya: my new PIN is 4711, do not tell anyone"
QUEUE = "test:failed-job-log"


async def fold_messages(ctx: dict[str, Any]) -> None:
    batch = [f"{CHAT_TEXT} ({i})" for i in range(3)]  # what a real job holds: the chat it works on
    raise RuntimeError(f"the model answered garbage for {len(batch)} messages")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


async def run_failing_job() -> None:
    pool = open_embedded_pool()
    try:
        await pool.enqueue_job("fold_messages", _queue_name=QUEUE)
        worker = Worker(
            functions=[func(fold_messages, name="fold_messages", max_tries=1)],
            redis_pool=pool,
            queue_name=QUEUE,
            burst=True,
            poll_delay=0.01,
            handle_signals=False,
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        try:
            await worker.main()
        finally:
            await worker.close()
        assert worker.jobs_failed == 1
    finally:
        await pool.aclose()


@pytest.mark.parametrize(("log_format", "tty"), [("console", False), ("console", True), ("json", False)])
async def test_a_failing_jobs_log_holds_its_error_and_traceback_but_no_chat_text_from_its_locals(
    log_format: str,
    tty: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    configure_logging(Settings(LOG_FORMAT=log_format))
    await run_failing_job()
    log = capsys.readouterr().err
    assert "fold_messages failed" in log and "the model answered garbage for 3 messages" in log, log
    assert "Traceback" in log and "test_failed_job_log.py" in log, log
    assert "PIN is 4711" not in log, log
