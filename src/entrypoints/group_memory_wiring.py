"""How group memory (L3) is composed: the distiller, the evolver's options, the daily schedule.

The container (``entrypoints.container``) calls these; they read only the settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from adapters.llm.offline_distill import OfflineMemoryDistiller
from entrypoints.metered_ports import MeteredDistiller
from entrypoints.settings import Settings
from memory_domain.consensus import ConsensusSchedule
from memory_domain.group_memory import EvolverOptions
from memory_domain.group_ports import MemoryDistiller


async def open_distiller(settings: Settings) -> AsyncIterator[MemoryDistiller]:
    """The OpenAI-compatible distiller when ``LLM_BASE_URL`` is set, else the offline one."""
    if not settings.llm_configured:
        # Items name the day they were said in the group's time zone, as the memory context does.
        yield MeteredDistiller(OfflineMemoryDistiller(zone=ZoneInfo(settings.memory_timezone)))
        return
    # Imported here, as in the container: the openai SDK is slow to import.
    from adapters.llm.openai_distiller import OpenAIMemoryDistiller

    distiller = OpenAIMemoryDistiller(**settings.llm_options())
    try:
        yield MeteredDistiller(distiller)
    finally:
        await distiller.aclose()


def evolver_options(settings: Settings) -> EvolverOptions:
    return EvolverOptions(
        lease_seconds=settings.l2_lease_seconds,
        # Both distillers check their own answers (the OpenAI one retries within
        # LLM_MAX_ATTEMPTS; the offline one is deterministic): no second round.
        model_attempts=1,
    )


def consensus_schedule(settings: Settings) -> ConsensusSchedule:
    return ConsensusSchedule(hour=settings.consensus_cron_hour, timezone=settings.memory_timezone)
