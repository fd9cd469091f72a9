"""Group memory with the real arq worker on PostgreSQL and Redis: evolution, the cron's catch-up, rollback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from dependency_injector import providers

from adapters.postgres.consensus_slots import SqlConsensusSlots
from adapters.postgres.group_memory_tables import consensus_slots
from adapters.redis.arq_queue import ArqEvolutionQueue
from entrypoints.container import Container, resolve
from entrypoints.demo import run_worker_until_idle
from entrypoints.settings import Settings
from memory_domain.consensus import ConsensusSchedule, ConsensusScheduler
from memory_domain.group_memory import MemoryEvolver
from memory_domain.group_model import ItemKind
from memory_domain.group_ports import ConsensusSlots, EvolutionQueue, GroupMemoryStore
from memory_domain.memory_context import MemoryContextReader
from memory_domain.model import ChatMessage, Role
from memory_domain.recording import MessageRecorder
from memory_domain.topic_memory import TopicUpdater
from tests.support.processes import ai_worker, service_env
from tests.support.redis_space import redis_test_url
from tests.support.services import live_services

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CN_CHAT = [
    ("小王", "周六团建去香山还是去植物园？"),
    ("小李", "去香山吧，我更喜欢爬山"),
    ("小张", "同意"),
    ("小赵", "+1"),
    ("小王", "那就这么定了，周六早上8点在香山东门集合"),
    ("小李", "好的，我来订大巴"),
    ("小张", "大巴订好了，45 座，早上7点出发"),
    ("小赵", "团建的预算是每人200元，已经批下来了"),
    ("小王", "记得带水和外套，山上冷"),
    ("小李", "要带午饭吗？"),
]
EN_CHAT = [
    ("Ann", "Postgres or MySQL for the new order service?"),
    ("Bob", "We decided to go with Postgres for the order service."),
    ("Cat", "I prefer we keep MySQL for reporting, for now."),
    ("Dan", "The migration dry run took 3 hours 40 minutes."),
    ("Ann", "Staging is on Postgres since Tuesday."),
    ("Bob", "Connection pool is 50 per instance."),
    ("Cat", "Backups run nightly at 01:00."),
    ("Dan", "Read replicas are configured for the reports."),
    ("Ann", "The cutover is Saturday 23:00."),
    ("Bob", "Who writes the rollback runbook?"),
]


def chat(group_id: str, lines: list[tuple[str, str]], start: int = 0) -> list[ChatMessage]:
    return [
        ChatMessage(
            message_id=f"{group_id}-{start + i:03d}",
            group_id=group_id,
            sender_id=sender,
            sender_name=sender,
            role=Role.USER,
            content=content,
            sent_at=START + timedelta(minutes=start + i),
        )
        for i, (sender, content) in enumerate(lines)
    ]


@pytest.fixture
async def services() -> AsyncIterator[tuple[Settings, Container]]:
    async with live_services(L2_QUEUE_TRIGGER_THRESHOLD=10) as (settings, container, _):
        yield settings, container


async def complete_slot(container: Container, slot: datetime) -> None:
    slots: ConsensusSlots = await resolve(container.consensus_slots)
    assert await slots.claim_slot(slot, "earlier-worker", slot, slot - timedelta(days=1))
    assert await slots.complete_slot(slot, "earlier-worker", slot, 0)


async def recorded_slots(container: Container) -> list[tuple[datetime, bool]]:
    engine = await resolve(container.engine)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(sa.select(consensus_slots).order_by(consensus_slots.c.slot_at))
        ).all()
    return [(row.slot_at, row.completed_at is not None) for row in rows]


async def fold_into_topics(container: Container, *batches: list[ChatMessage]) -> None:
    recorder: MessageRecorder = await resolve(container.recorder)
    updater: TopicUpdater = await resolve(container.updater)
    for batch in batches:
        await recorder.record_many(batch)
        await updater.update(batch[0].group_id)


async def test_messages_flow_through_topics_into_group_memory_with_the_real_worker(
    services: tuple[Settings, Container],
) -> None:
    settings, container = services
    latest = ConsensusSchedule().latest_slot(datetime.now(UTC))
    await complete_slot(container, latest)  # today's slot already ran: only the evolutions asked for run
    recorder: MessageRecorder = await resolve(container.recorder)
    await recorder.record_many(chat("team-cn", CN_CHAT) + chat("team-en", EN_CHAT))
    await run_worker_until_idle(settings, container)  # the topic updates
    from entrypoints import create_pool

    pool = await create_pool(settings)
    try:
        await pool.enqueue_job("task_evolve_memory", "bad group id!")
        await pool.enqueue_job("task_evolve_memory", {"not": "a string"})
    finally:
        await pool.aclose()
    consensus: ConsensusScheduler = await resolve(container.consensus)
    assert await consensus.enqueue("team-cn") and await consensus.enqueue("team-en")
    await run_worker_until_idle(settings, container)
    store: GroupMemoryStore = await resolve(container.group_store)
    cn = await store.get_group_memory("team-cn")
    en = await store.get_group_memory("team-en")
    assert (cn.version, cn.topic_version, en.version) == (1, 1, 1)
    cn_kinds = {item.kind for item in cn.items}
    assert {ItemKind.DECISION, ItemKind.PREFERENCE, ItemKind.OPEN_QUESTION} <= cn_kinds
    [decision] = [i for i in cn.items if i.kind is ItemKind.DECISION]
    assert "香山东门集合" in decision.text and decision.message_ids == ("team-cn-004",)
    assert all(m.startswith("team-cn-") for item in cn.items for m in item.message_ids)
    assert any(i.kind is ItemKind.DECISION and "Postgres" in i.text for i in en.items)
    [revision] = await store.list_group_memory_revisions("team-cn", 5)
    assert revision.model == "offline-distiller-v1" and revision.prompt_tokens > 0
    reader: MemoryContextReader = await resolve(container.memory_context)
    context = await reader.context("team-cn", 300, query="几点集合？")
    # The decision answers first: its item, or the one message it restates (the item, which
    # now also says who and when, is longer, and BM25 may rank its shorter message above it).
    assert len(context.text) <= 300 and context.entries[0].key in (decision.item_id, *decision.message_ids)
    assert await recorded_slots(container) == [(latest, True)]


class CountingSlots:
    """The real consensus slots, recording each successful claim and completion."""

    def __init__(self, slots: ConsensusSlots) -> None:
        self._slots = slots
        self.claims: list[tuple[datetime, str]] = []
        self.completions: list[tuple[datetime, str, int]] = []

    async def last_completed_slot(self) -> datetime | None:
        return await self._slots.last_completed_slot()

    async def claim_slot(self, slot_at: datetime, holder: str, now: datetime, stale_before: datetime) -> bool:
        claimed = await self._slots.claim_slot(slot_at, holder, now, stale_before)
        if claimed:
            self.claims.append((slot_at, holder))
        return claimed

    async def complete_slot(self, slot_at: datetime, holder: str, now: datetime, groups: int) -> bool:
        completed = await self._slots.complete_slot(slot_at, holder, now, groups)
        if completed:
            self.completions.append((slot_at, holder, groups))
        return completed


class CountingEvolutions:
    """The real evolution queue, recording who asked for each group's evolution."""

    def __init__(self, queue: EvolutionQueue) -> None:
        self._queue = queue
        self.asked: list[str] = []

    async def enqueue_evolution(self, group_id: str) -> bool:
        self.asked.append(group_id)
        return await self._queue.enqueue_evolution(group_id)

    async def enqueue_evolutions(self, group_ids: Sequence[str]) -> list[str]:
        self.asked.extend(group_ids)
        return await self._queue.enqueue_evolutions(group_ids)

    async def revive_evolution(self, group_id: str) -> None:
        await self._queue.revive_evolution(group_id)


async def test_a_worker_that_starts_after_missed_days_runs_each_missed_slot_once(
    services: tuple[Settings, Container],
) -> None:
    settings, container = services
    slots = CountingSlots(SqlConsensusSlots(await resolve(container.engine)))
    evolutions = CountingEvolutions(ArqEvolutionQueue(await resolve(container.redis)))
    container.consensus_slots.override(providers.Object(slots))
    container.evolution_queue.override(providers.Object(evolutions))
    latest = ConsensusSchedule().latest_slot(datetime.now(UTC))
    missed = [latest - timedelta(days=n) for n in (2, 1, 0)]
    await complete_slot(container, latest - timedelta(days=3))  # the last slot any worker ran
    slots.claims.clear()
    slots.completions.clear()
    await fold_into_topics(container, chat("team-cn", CN_CHAT), chat("team-en", EN_CHAT))
    # Two workers start at once; each slot is claimed by one of them, each group evolved once.
    await asyncio.gather(
        run_worker_until_idle(settings, container, max_rounds=3),
        run_worker_until_idle(settings, container, max_rounds=3),
    )
    assert await recorded_slots(container) == [(latest - timedelta(days=3), True)] + [
        (s, True) for s in missed
    ]
    # Each missed slot claimed and completed once, by its claimer, with both groups' evolutions.
    assert sorted(slot for slot, _ in slots.claims) == missed
    assert sorted((slot, holder) for slot, holder, _ in slots.completions) == sorted(slots.claims)
    assert all(groups == 2 for _, _, groups in slots.completions)
    # Every run of claimed slots asks once per group: as often as there were claimers.
    claimers = {holder for _, holder in slots.claims}
    assert sorted(evolutions.asked) == sorted(["team-cn", "team-en"] * len(claimers))
    store: GroupMemoryStore = await resolve(container.group_store)
    for group_id in ("team-cn", "team-en"):
        assert [r.revision for r in await store.list_group_memory_revisions(group_id, 10)] == [1]
    # A later start finds nothing missed and nothing changed: no claim, no evolution asked for.
    asked = len(evolutions.asked)
    await run_worker_until_idle(settings, container)
    assert len(await recorded_slots(container)) == 4 and len(slots.claims) == 3
    assert len(evolutions.asked) == asked
    assert (await store.get_group_memory("team-cn")).version == 1


async def test_rollback_history_and_show_as_an_operator_runs_them(
    services: tuple[Settings, Container],
) -> None:
    settings, container = services
    evolver: MemoryEvolver = await resolve(container.evolver)
    await fold_into_topics(container, chat("team-cn", CN_CHAT))
    await evolver.evolve("team-cn")
    revised = [("小王", "改一下：决定改成周日早上8点在香山东门集合"), ("小李", "收到")]
    await fold_into_topics(container, chat("team-cn", revised * 5, start=100))
    await evolver.evolve("team-cn")
    store: GroupMemoryStore = await resolve(container.group_store)
    first = {item.item_id for item in (await store.group_memory_at("team-cn", 1)).items}
    env = service_env(DATABASE_URL=settings.database_dsn(), REDIS_URL=redis_test_url())

    rolled = await ai_worker("memory", "rollback", "team-cn", "--to", "1", env=env)
    assert rolled.returncode == 0, rolled.stderr
    assert "restored to revision 1 as revision 3" in rolled.stdout
    shown = (await ai_worker("memory", "show", "team-cn", "--json", env=env)).json()
    assert shown["group_memory"]["version"] == 3
    assert {item["id"] for item in shown["group_memory"]["items"]} == first
    assert all(
        {"kind", "text", "topic_ids", "message_ids", "valid_from", "invalid_at"} <= set(i)
        for i in shown["group_memory"]["items"]
    )
    history = (await ai_worker("memory", "history", "team-cn", "--json", env=env)).json()
    assert [(h["kind"], h["revision"], h["action"]) for h in history][:2] == [
        ("group_memory", 3, "rollback"),
        ("group_memory", 2, "evolve"),
    ]
    assert {h["kind"] for h in history} == {"topics", "group_memory"}
    assert all(
        {"created_at", "message_ids", "model", "prompt_tokens", "completion_tokens"} <= set(h)
        for h in history
    )
    refused = await ai_worker("memory", "rollback", "team-cn", "--to", "7", env=env)
    assert refused.returncode == 1 and "between 0 and 2" in refused.stdout + refused.stderr
    topics = await ai_worker("memory", "rollback", "team-cn", "--to", "1", "--kind", "topics", env=env)
    assert topics.returncode == 2 and "topic memory cannot be rolled back" in topics.stderr
    assert (await store.get_group_memory("team-cn")).version == 3
