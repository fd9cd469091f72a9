"""The :class:`~memory_domain.group_ports.ConsensusSlots` port: one row per daily slot, in SQL."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory_store_checks import require_aware
from adapters.postgres.engine import storage_errors
from adapters.postgres.group_memory_tables import consensus_slots
from adapters.postgres.statements import dialect_insert

_slots = consensus_slots.c


class SqlConsensusSlots:
    """Claims are atomic: the insert of a new slot's row succeeds for one worker only, and taking
    over a stale claim is an update guarded by the claim's age, which PostgreSQL re-checks after
    a rival's update commits."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def last_completed_slot(self) -> datetime | None:
        statement = sa.select(sa.func.max(_slots.slot_at)).where(_slots.completed_at.is_not(None))
        with storage_errors(self._engine.url, "read the consensus slots"):
            async with self._engine.connect() as connection:
                latest: datetime | None = await connection.scalar(statement)
        return latest

    async def claim_slot(self, slot_at: datetime, holder: str, now: datetime, stale_before: datetime) -> bool:
        for value, name in ((slot_at, "slot_at"), (now, "now"), (stale_before, "stale_before")):
            require_aware(value, name)
        insert = (
            dialect_insert(self._engine, consensus_slots)
            .values(slot_at=slot_at, claimed_by=holder, claimed_at=now, completed_at=None, groups=None)
            .on_conflict_do_nothing(index_elements=["slot_at"])
            .returning(_slots.slot_at)
        )
        take_over = (
            sa.update(consensus_slots)
            .where(
                _slots.slot_at == slot_at,
                _slots.completed_at.is_(None),
                _slots.claimed_at < stale_before,
            )
            .values(claimed_by=holder, claimed_at=now)
            .returning(_slots.slot_at)
        )
        with storage_errors(self._engine.url, "claim a consensus slot"):
            async with self._engine.begin() as connection:
                if (await connection.execute(insert)).first() is not None:
                    return True
                return (await connection.execute(take_over)).first() is not None

    async def complete_slot(self, slot_at: datetime, holder: str, now: datetime, groups: int) -> bool:
        require_aware(slot_at, "slot_at")
        require_aware(now, "now")
        statement = (
            sa.update(consensus_slots)
            .where(_slots.slot_at == slot_at, _slots.claimed_by == holder, _slots.completed_at.is_(None))
            .values(completed_at=now, groups=groups)
            .returning(_slots.slot_at)
        )
        with storage_errors(self._engine.url, "complete a consensus slot"):
            async with self._engine.begin() as connection:
                return (await connection.execute(statement)).first() is not None
