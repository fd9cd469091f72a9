"""The daily consensus: when each day's slot falls, and running every slot exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from memory_domain.group_model import ConsensusReport
from memory_domain.group_ports import ConsensusSlots, EvolutionQueue, GroupMemoryStore
from memory_domain.model import validate_group_id
from memory_domain.ports import Clock, IdGenerator, UpdateLeases

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsensusSchedule:
    """One slot a day at ``hour``:00 in ``timezone`` (an IANA name such as ``Asia/Shanghai``).

    On a day whose ``hour``:00 does not exist (a daylight-saving gap) the slot is the instant the
    clocks jumped to; on a day where it exists twice, the first one. ``max_catch_up`` bounds
    how many missed days one check records (evolving every changed group once covers them all).
    """

    hour: int = 2
    timezone: str = "UTC"
    max_catch_up: int = 366
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.hour <= 23:
            raise ValueError(f"the consensus hour must be 0-23, got {self.hour}")
        if self.max_catch_up < 1:
            raise ValueError("max_catch_up must be at least 1")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.timezone!r}: use an IANA name like Asia/Shanghai"
            ) from None
        object.__setattr__(self, "zone", zone)

    def slot_of(self, day: date) -> datetime:
        """The slot of a local calendar day, in UTC."""
        return datetime.combine(day, time(self.hour), tzinfo=self.zone).astimezone(UTC)

    def latest_slot(self, now: datetime) -> datetime:
        """The latest slot at or before ``now``."""
        today = now.astimezone(self.zone).date()
        slot = self.slot_of(today)
        return slot if slot <= now else self.slot_of(today - timedelta(days=1))

    def due_slots(self, last_completed: datetime | None, now: datetime) -> list[datetime]:
        """The slots after ``last_completed`` up to ``now``, oldest first.

        Before the first slot ever completed, only the latest one is due: there is no earlier
        day the product missed.
        """
        latest = self.latest_slot(now)
        if last_completed is None:
            return [latest]
        day = latest.astimezone(self.zone).date()
        due: list[datetime] = []
        while len(due) < self.max_catch_up:
            slot = self.slot_of(day)
            if slot <= last_completed:
                break
            due.append(slot)
            day -= timedelta(days=1)
        return sorted(due)


class ConsensusScheduler:
    """Enqueues the daily consensus and on-demand evolutions; hands on evolutions that died.

    :meth:`run_due_slots` runs on every tick of the worker's consensus cron and at worker
    start. The slots are recorded in the shared store and claimed atomically, so that each
    runs once however many workers tick, and a slot missed while no worker ran is run at the
    next check. Running a slot enqueues the evolution of every group whose topics changed
    since its last evolution; several missed slots are run together (one evolution covers
    them all) and each is recorded.
    """

    def __init__(
        self,
        store: GroupMemoryStore,
        slots: ConsensusSlots,
        queue: EvolutionQueue,
        leases: UpdateLeases,
        schedule: ConsensusSchedule,
        clock: Clock,
        ids: IdGenerator,
        *,
        claim_timeout: timedelta = timedelta(minutes=10),
        page_size: int = 1_000,
    ) -> None:
        self._store = store
        self._slots = slots
        self._queue = queue
        self._leases = leases
        self._schedule = schedule
        self._clock = clock
        self._ids = ids
        self._claim_timeout = claim_timeout
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._page_size = page_size

    async def run_due_slots(self) -> ConsensusReport:
        """Run every slot due and not run yet; revive evolutions whose worker died."""
        revived = tuple(await self.recover())
        now = self._clock.now()
        due = self._schedule.due_slots(await self._slots.last_completed_slot(), now)
        holder = self._ids.new_id()
        stale_before = now - self._claim_timeout
        claimed = [slot for slot in due if await self._slots.claim_slot(slot, holder, now, stale_before)]
        if not claimed:
            return ConsensusReport(due=tuple(due), claimed=(), revived=revived)
        groups: list[str] = []
        enqueued: list[str] = []
        # Every changed group, a page at a time (keyset by group id), however many there are.
        page = await self._store.groups_to_evolve(self._page_size)
        while page:
            groups += page
            enqueued += await self._queue.enqueue_evolutions(page)  # one round trip a page
            if len(page) < self._page_size:
                break
            page = await self._store.groups_to_evolve(self._page_size, after=page[-1])
        for slot in claimed:
            if not await self._slots.complete_slot(slot, holder, self._clock.now(), len(groups)):
                logger.warning("consensus slot %s was taken over before it completed", slot.isoformat())
        logger.info(
            "consensus: ran %d slot(s) up to %s; %d groups changed, %d evolutions enqueued",
            len(claimed),
            claimed[-1].isoformat(),
            len(groups),
            len(enqueued),
        )
        return ConsensusReport(
            due=tuple(due),
            claimed=tuple(claimed),
            groups=tuple(groups),
            enqueued=tuple(enqueued),
            revived=revived,
        )

    async def enqueue(self, group_id: str) -> bool:
        """Enqueue the group's evolution now (operators and other programs)."""
        validate_group_id(group_id)
        return await self._queue.enqueue_evolution(group_id)

    async def recover(self) -> list[str]:
        """Hand on every evolution whose lease ran out: its worker died."""
        revived: list[str] = []
        for group_id in await self._leases.expired(self._clock.now(), 1_000):
            # forget() succeeds for one caller only, and only once the lease is really gone.
            if not await self._leases.forget(group_id):
                continue
            await self._queue.revive_evolution(group_id)
            revived.append(group_id)
            logger.warning("group %s: its evolution died with its worker; revived", group_id)
        return revived
