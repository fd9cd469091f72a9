"""The one arq worker: ``arq entrypoints.unified_worker.UnifiedWorkerSettings``.

Job functions are thin: they check their arguments and call one domain service. The settings
class is built when it is first looked up (not at import), from the environment at that moment,
so bad settings stop the worker at start with every bad variable named.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from arq import cron, func

from adapters.redis.connection import open_embedded_pool, redis_settings
from adapters.redis.orphaned_jobs import OrphanedJobs
from adapters.redis.serialization import deserialize, serialize
from adapters.redis.wake_up import wake_workers_after_job
from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.group_memory_jobs import (
    evolution_follow_up,
    group_memory_cron_jobs,
    group_memory_functions,
    group_memory_startup,
)
from entrypoints.health import HEALTH_CHECK_SECONDS
from entrypoints.logging_setup import configure_logging
from entrypoints.long_task_jobs import (
    long_task_cron_jobs,
    long_task_functions,
    long_task_shutdown,
    long_task_startup,
)
from entrypoints.metered_jobs import metered_crons, metered_functions
from entrypoints.metrics import count_topic_update
from entrypoints.metrics_state import MetricsEndpoint, MetricsUnavailable, start_metrics
from entrypoints.preflight import Needs, ServiceProblem, run_preflight
from entrypoints.settings import Settings, SettingsError, load_settings
from memory_domain.errors import InvalidMessage
from memory_domain.model import validate_group_id
from memory_domain.scheduling import UpdateScheduler
from memory_domain.topic_memory import TopicUpdater

logger = logging.getLogger("ai_worker")

FOLLOW_UP_KEY = "l2_follow_up"
ORPHANS_KEY = "l2_orphaned_updates"
METRICS_KEY = "metrics_endpoint"
RECOVERY_SECONDS = {0, 15, 30, 45}


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings()
    container: Container | None = ctx.get("container")
    if container is None:
        # Started by arq's CLI: this worker owns its resources and closes them at shutdown.
        configure_logging(settings)
        container = build_container(settings)
        await open_container(container)
        ctx["container"] = container
        ctx["owns_container"] = True
    ctx["updater"] = await resolve(container.updater)
    scheduler: UpdateScheduler = await resolve(container.scheduler)
    ctx["scheduler"] = scheduler
    ctx[ORPHANS_KEY] = [
        await resolve(container.orphaned_updates),
        await resolve(container.orphaned_evolutions),
    ]
    await long_task_startup(ctx, container, settings)
    await group_memory_startup(ctx, container)
    # A restarted worker may follow a flushed Redis: make the derived state match Postgres.
    # Only when Redis lost it (or its hourly mark ran out), and by one worker at a time.
    await scheduler.reconcile()
    logger.info(
        "worker started: database=%s, redis=%s, model=%s",
        "postgresql" if settings.uses_postgres else "sqlite",
        "in-process" if settings.uses_embedded_redis else "server",
        (await resolve(container.topic_model)).name,
    )
    # Last: a port that is taken stops the start, with nothing else left half-open by it.
    try:
        ctx[METRICS_KEY] = await start_metrics(settings, container)
    except MetricsUnavailable as error:
        # One line and exit 1 (arq closes the worker on the way out), not a traceback.
        raise SystemExit(f"error: {error}") from None


async def shutdown(ctx: dict[str, Any]) -> None:
    await long_task_shutdown(ctx)
    endpoint: MetricsEndpoint | None = ctx.pop(METRICS_KEY, None)
    if endpoint is not None:
        await endpoint.close()
    container: Container | None = ctx.get("container")
    if container is not None and ctx.get("owns_container"):
        await close_container(container)


async def task_update_topic_memory(ctx: dict[str, Any], group_id: str) -> dict[str, Any]:
    """Fold up to ``L2_QUEUE_MAX_LEN`` of the group's oldest pending messages into its topics."""
    try:
        validate_group_id(group_id)
    except InvalidMessage as error:
        raise ValueError(f"task_update_topic_memory: bad group_id argument: {error}") from None
    updater: TopicUpdater = ctx["updater"]
    # Checked after the job ends, whether it succeeded or not, when arq has released the
    # group's job id: messages that arrived meanwhile could not be enqueued before then.
    ctx[FOLLOW_UP_KEY] = group_id
    outcome = await updater.update(group_id)
    count_topic_update(outcome.status.value, outcome.integrated)
    return {
        "group_id": outcome.group_id,
        "status": outcome.status.value,
        "revision": outcome.revision,
        "integrated": outcome.integrated,
        "remaining": outcome.remaining,
    }


async def after_job_end(ctx: dict[str, Any]) -> None:
    wake_workers_after_job()
    await evolution_follow_up(ctx)
    group_id = ctx.get(FOLLOW_UP_KEY)
    if group_id is None:
        return
    scheduler: UpdateScheduler = ctx["scheduler"]
    try:
        if await scheduler.enqueue_if_due(group_id):
            logger.info("group %s: more messages are due; next update enqueued", group_id)
    except Exception:
        # The scan finds the group later; a follow-up must not take the worker down.
        logger.exception("group %s: could not enqueue the follow-up update", group_id)


async def cron_scan_topic_memory(ctx: dict[str, Any]) -> dict[str, Any]:
    """The L2 scan: enqueue groups due by age and revive updates that died half-way."""
    scheduler: UpdateScheduler = ctx["scheduler"]
    report = await scheduler.scan()
    return {"due": len(report.due), "enqueued": len(report.enqueued), "revived": len(report.revived)}


async def cron_recover_topic_updates(ctx: dict[str, Any]) -> int:
    """Every 15 s: hand on the updates of workers that died, so no group waits long."""
    scheduler: UpdateScheduler = ctx["scheduler"]
    revived = await scheduler.recover()
    # A worker killed between arq starting a job and the job taking its lease left no lease
    # to expire: such update and evolution jobs are found in progress without one, and revived.
    orphans: list[OrphanedJobs] = ctx[ORPHANS_KEY]
    return len(revived) + sum([len(await kind.sweep()) for kind in orphans])


def build_worker_settings(settings: Settings | None = None) -> type:
    """The arq settings class for these settings (read from the environment when not given)."""
    settings = settings or load_settings()
    scan_minutes = set(range(0, 60, settings.l2_scan_interval_minutes))
    attributes: dict[str, Any] = {
        "functions": [
            func(
                task_update_topic_memory,
                name="task_update_topic_memory",
                timeout=settings.l2_job_timeout_seconds,
                keep_result=0,
                # Each revival of a killed run counts as an arq try; the updater's own backoff,
                # not arq's try limit, decides when a failing group is tried again.
                max_tries=1000,
            ),
            *long_task_functions(settings),
            *group_memory_functions(settings),
        ],
        "cron_jobs": [
            cron(
                cron_scan_topic_memory,
                name="cron_scan_topic_memory",
                minute=scan_minutes,
                second=0,
                run_at_startup=True,
                keep_result=0,
            ),
            cron(
                cron_recover_topic_updates,
                name="cron_recover_topic_updates",
                second=RECOVERY_SECONDS,
                keep_result=0,
            ),
            *long_task_cron_jobs(settings),
            *group_memory_cron_jobs(settings),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "after_job_end": after_job_end,
        "max_jobs": settings.worker_max_jobs,
        # arq's default is an hour: `arq --check` and `ai-worker health` would see a dead worker late.
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "keep_result": 0,
        "ctx": {"settings": settings},
        "__doc__": "arq settings of the unified memory worker.",
    }
    # Every job and cron run is counted and timed (ai_worker_jobs_total, ai_worker_cron_runs_total).
    attributes["functions"] = metered_functions(attributes["functions"])
    attributes["cron_jobs"] = metered_crons(attributes["cron_jobs"])
    if settings.uses_embedded_redis:
        attributes["redis_pool"] = open_embedded_pool()
    else:
        attributes["redis_settings"] = redis_settings(settings.redis_dsn())
    return type("UnifiedWorkerSettings", (), attributes)


def _run_by_arq_cli() -> bool:
    """Whether this process is arq's command line (``arq ...`` or ``python -m arq ...``)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "arq" or (program.name == "__main__.py" and program.parent.name == "arq")


def __getattr__(name: str) -> Any:
    if name == "UnifiedWorkerSettings":
        try:
            settings = load_settings()
            # A worker process on PostgreSQL with a private in-process Redis would never see
            # other programs' jobs: refused (the demo runs its worker in its own process).
            settings.require_shared_redis()
        except SettingsError as error:
            print(error, file=sys.stderr)
            raise SystemExit(2) from None
        # arq's CLI looks this up before it starts the worker: an unreachable service, a schema
        # not at head or a missing LONG_TASK_IMPORTS module is one line each now, not a traceback
        # later. A program that merely looks the class up connects to nothing.
        if _run_by_arq_cli():
            try:
                run_preflight(settings, Needs(task_imports=True))
            except ServiceProblem as problem:
                print("\n".join(f"error: {line}" for line in str(problem).splitlines()), file=sys.stderr)
                raise SystemExit(1) from None
        return build_worker_settings(settings)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
