"""The long-task jobs of the unified worker: run one task, and the polls that are its safety net.

``task_run_long_task(ctx, task_id)`` is what a submit enqueues (a fresh job id per dispatch);
``cron_poll_long_tasks`` claims, every minute, up to ``LONG_TASK_POLL_BATCH`` due tasks that no
job brought (a lost dispatch, a flushed Redis) and runs them in place; ``cron_recover_long_tasks``
does the same every 15 s for tasks whose lease expired, so a dead worker's task is taken over
within a lease plus 15 s.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron, func
from arq.constants import default_queue_name
from arq.cron import CronJob
from arq.worker import Function

from adapters.redis.wake_up import WakeUpListener, install_wakeable_poll
from entrypoints.container import Container, resolve
from entrypoints.long_task_wiring import run_job_timeout
from entrypoints.metrics import count_long_task_run
from entrypoints.settings import Settings
from long_tasks_domain.executor import RunReport, TaskExecutor
from long_tasks_domain.model import validate_task_id

logger = logging.getLogger("ai_worker")

EXECUTOR_KEY = "long_task_executor"
POLL_BATCH_KEY = "long_task_poll_batch"
WAKE_UP_KEY = "wake_up_listener"
RECOVERY_SECONDS = {5, 20, 35, 50}


async def long_task_startup(ctx: dict[str, Any], container: Container, settings: Settings) -> None:
    """Resolve the executor (and with it the registry: a bad LONG_TASK_IMPORTS stops the start)."""
    ctx[EXECUTOR_KEY] = await resolve(container.task_executor)
    ctx[POLL_BATCH_KEY] = settings.long_task_poll_batch
    # A submit wakes this worker at once (see adapters.redis.wake_up) instead of its next poll.
    install_wakeable_poll()
    listener = WakeUpListener(ctx["redis"], default_queue_name)
    listener.start()
    ctx[WAKE_UP_KEY] = listener


async def long_task_shutdown(ctx: dict[str, Any]) -> None:
    listener: WakeUpListener | None = ctx.pop(WAKE_UP_KEY, None)
    if listener is not None:
        await listener.close()


def _report(report: RunReport) -> dict[str, Any]:
    # Every run passes here, dispatched or claimed by a poll: the one place to count them.
    count_long_task_run(report.outcome.value)
    return {"task_id": report.task_id, "outcome": report.outcome.value, "steps": report.steps}


async def task_run_long_task(ctx: dict[str, Any], task_id: str) -> dict[str, Any]:
    """Claim the task if it is due and run its steps from the last checkpoint."""
    try:
        validate_task_id(task_id)
    except ValueError as error:
        raise ValueError(f"task_run_long_task: bad task_id argument: {error}") from None
    executor: TaskExecutor = ctx[EXECUTOR_KEY]
    return _report(await executor.run(task_id))


async def cron_poll_long_tasks(ctx: dict[str, Any]) -> dict[str, Any]:
    """The minute poll: run up to LONG_TASK_POLL_BATCH due tasks that no dispatch brought."""
    executor: TaskExecutor = ctx[EXECUTOR_KEY]
    reports = await executor.poll(ctx[POLL_BATCH_KEY])
    if reports:
        logger.info("long-task poll ran %d tasks the dispatch had missed or lost", len(reports))
    return {"ran": [_report(report) for report in reports]}


async def cron_recover_long_tasks(ctx: dict[str, Any]) -> dict[str, Any]:
    """Every 15 s: take over the tasks whose worker died (their lease expired)."""
    executor: TaskExecutor = ctx[EXECUTOR_KEY]
    reports = await executor.poll(ctx[POLL_BATCH_KEY], expired_only=True)
    return {"ran": [_report(report) for report in reports]}


def long_task_functions(settings: Settings) -> list[Function]:
    return [
        func(task_run_long_task, name="task_run_long_task", timeout=run_job_timeout(settings), keep_result=0)
    ]


def long_task_cron_jobs(settings: Settings) -> list[CronJob]:
    timeout = run_job_timeout(settings)
    return [
        cron(
            cron_poll_long_tasks,
            name="cron_poll_long_tasks",
            second=0,
            run_at_startup=True,
            timeout=timeout,
            keep_result=0,
        ),
        cron(
            cron_recover_long_tasks,
            name="cron_recover_long_tasks",
            second=RECOVERY_SECONDS,
            timeout=timeout,
            keep_result=0,
        ),
    ]
