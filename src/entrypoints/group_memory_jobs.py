"""The group-memory jobs of the unified worker: one evolution, and the daily consensus check.

``task_evolve_memory(ctx, group_id)`` evolves one group (job id ``evolve-memory:GROUP``, so one
per group at a time). ``cron_daily_consensus`` runs every minute and at worker start: it runs
the day's slot (``CONSENSUS_CRON_HOUR``:00 in ``MEMORY_TIMEZONE``) once it is due, and any slot
missed while no worker ran, each exactly once however many workers tick; and it hands on
evolutions whose worker died.
"""

from __future__ import annotations

import logging
from typing import Any

from arq import cron, func
from arq.cron import CronJob
from arq.worker import Function

from entrypoints.container import Container, resolve
from entrypoints.metrics import count_evolution
from entrypoints.settings import Settings
from memory_domain.consensus import ConsensusScheduler
from memory_domain.errors import InvalidMessage
from memory_domain.group_memory import MemoryEvolver
from memory_domain.model import validate_group_id

EVOLVER_KEY = "group_memory_evolver"
CONSENSUS_KEY = "group_memory_consensus"
EVOLUTION_FOLLOW_UP_KEY = "l3_follow_up"
logger = logging.getLogger(__name__)

# Away from the second the other minute crons use, so that the ticks do not pile up.
CONSENSUS_SECOND = 30


async def group_memory_startup(ctx: dict[str, Any], container: Container) -> None:
    ctx[EVOLVER_KEY] = await resolve(container.evolver)
    ctx[CONSENSUS_KEY] = await resolve(container.consensus)


async def task_evolve_memory(ctx: dict[str, Any], group_id: str) -> dict[str, Any]:
    """Distil the group's topics changed since its last evolution into its group memory."""
    try:
        validate_group_id(group_id)
    except InvalidMessage as error:
        raise ValueError(f"task_evolve_memory: bad group_id argument: {error}") from None
    evolver: MemoryEvolver = ctx[EVOLVER_KEY]
    outcome = await evolver.evolve(group_id)
    count_evolution(outcome.status.value)
    if outcome.more:
        # Enqueued after the job ends (see evolution_follow_up), once arq released the job id.
        ctx[EVOLUTION_FOLLOW_UP_KEY] = group_id
    return {
        "group_id": outcome.group_id,
        "status": outcome.status.value,
        "revision": outcome.revision,
        "added": outcome.added,
        "updated": outcome.updated,
        "superseded": outcome.superseded,
        "more": outcome.more,
    }


async def evolution_follow_up(ctx: dict[str, Any]) -> None:
    """After an evolution that left changed topics for later: enqueue the next one now."""
    group_id = ctx.get(EVOLUTION_FOLLOW_UP_KEY)
    if group_id is None:
        return
    consensus: ConsensusScheduler = ctx[CONSENSUS_KEY]
    try:
        if await consensus.enqueue(group_id):
            logger.info("group %s: more changed topics; next evolution enqueued", group_id)
    except Exception:
        # The next daily consensus finds the group; a follow-up must not take the worker down.
        logger.exception("group %s: could not enqueue the follow-up evolution", group_id)


async def cron_daily_consensus(ctx: dict[str, Any]) -> dict[str, Any]:
    """Run the consensus slots that are due and not run yet; revive evolutions that died."""
    consensus: ConsensusScheduler = ctx[CONSENSUS_KEY]
    report = await consensus.run_due_slots()
    return {
        "slots_run": [slot.isoformat() for slot in report.claimed],
        "groups": len(report.groups),
        "enqueued": len(report.enqueued),
        "revived": len(report.revived),
    }


def group_memory_functions(settings: Settings) -> list[Function]:
    return [
        func(
            task_evolve_memory,
            name="task_evolve_memory",
            timeout=settings.l3_job_timeout_seconds,
            keep_result=0,
            # Each revival of a killed run counts as an arq try; failures are not retried by arq.
            max_tries=1000,
        )
    ]


def group_memory_cron_jobs(settings: Settings) -> list[CronJob]:
    return [
        cron(
            cron_daily_consensus,
            name="cron_daily_consensus",
            second=CONSENSUS_SECOND,
            run_at_startup=True,
            keep_result=0,
        )
    ]
