"""Counting and timing every arq job and cron run of the worker.

arq's ``on_job_start`` / ``on_job_end`` hooks are given neither the function's name nor how the
job ended, so each job coroutine is wrapped instead: the wrapper knows both. A job cancelled
once its timeout had passed counts as ``timeout``; one cancelled earlier (a shutdown, an abort)
as ``cancelled``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from arq.cron import CronJob
from arq.worker import Function

from entrypoints.metrics import (
    CANCELLED,
    CRON_DURATION,
    CRON_LAST_SUCCESS,
    CRON_RUNS,
    ERROR,
    JOB_DURATION,
    JOBS,
    JOBS_IN_PROGRESS,
    OK,
    OUTCOMES,
    TIMEOUT,
)

# arq's own default when a function names no timeout (Worker(job_timeout=300)).
ARQ_DEFAULT_TIMEOUT_SECONDS = 300.0

JobCoroutine = Callable[..., Any]


def _outcome_of_cancel(elapsed: float, timeout_s: float) -> str:
    # arq's asyncio.wait_for cancels the job at its timeout; allow for the timer's slack.
    return TIMEOUT if elapsed >= timeout_s * 0.99 else CANCELLED


def metered_job(name: str, coroutine: JobCoroutine, timeout_s: float | None) -> JobCoroutine:
    """``coroutine`` counted in ``ai_worker_jobs_total{function=name}`` and timed."""
    limit = timeout_s or ARQ_DEFAULT_TIMEOUT_SECONDS
    in_progress = JOBS_IN_PROGRESS.labels(name)
    JOB_DURATION.labels(name)
    for outcome in OUTCOMES:
        JOBS.labels(name, outcome)

    @functools.wraps(coroutine)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = ERROR
        in_progress.inc()
        try:
            result = await coroutine(ctx, *args, **kwargs)
            outcome = OK
            return result
        except asyncio.CancelledError:
            outcome = _outcome_of_cancel(time.perf_counter() - started, limit)
            raise
        finally:
            in_progress.dec()
            JOBS.labels(name, outcome).inc()
            JOB_DURATION.labels(name).observe(time.perf_counter() - started)

    return run


def metered_cron(name: str, coroutine: JobCoroutine, timeout_s: float | None) -> JobCoroutine:
    """``coroutine`` counted in ``ai_worker_cron_runs_total{cron=name}`` and timed."""
    limit = timeout_s or ARQ_DEFAULT_TIMEOUT_SECONDS
    CRON_DURATION.labels(name)
    for outcome in OUTCOMES:
        CRON_RUNS.labels(name, outcome)

    @functools.wraps(coroutine)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = ERROR
        try:
            result = await coroutine(ctx, *args, **kwargs)
            outcome = OK
            CRON_LAST_SUCCESS.labels(name).set(time.time())
            return result
        except asyncio.CancelledError:
            outcome = _outcome_of_cancel(time.perf_counter() - started, limit)
            raise
        finally:
            CRON_RUNS.labels(name, outcome).inc()
            CRON_DURATION.labels(name).observe(time.perf_counter() - started)

    return run


def metered_functions(functions: Sequence[Function]) -> list[Function]:
    """arq functions whose runs are counted and timed (their names and options unchanged)."""
    return [
        dataclasses.replace(f, coroutine=metered_job(f.name, f.coroutine, f.timeout_s)) for f in functions
    ]


def metered_crons(crons: Sequence[CronJob]) -> list[CronJob]:
    """arq cron jobs whose runs are counted and timed (their names and schedules unchanged)."""
    return [dataclasses.replace(c, coroutine=metered_cron(c.name, c.coroutine, c.timeout_s)) for c in crons]
