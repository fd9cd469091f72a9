"""``memory.rebuild_group``: a long task that re-derives a group's topics, through the real worker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from entrypoints.container import Container, resolve
from entrypoints.demo import run_worker_until_idle
from entrypoints.settings import Settings
from long_tasks_domain.errors import InvalidPayload
from long_tasks_domain.model import TaskStatus
from long_tasks_domain.service import TaskService
from memory_domain.queries import MemoryQueries
from memory_domain.recording import MessageRecorder
from tests.integration.test_worker_pipeline import chat
from tests.support.services import live_services

pytestmark = pytest.mark.integration


@pytest.fixture
async def services() -> AsyncIterator[tuple[Settings, Container]]:
    async with live_services(L2_QUEUE_MAX_LEN=20) as (settings, container, _):
        yield settings, container


async def test_a_group_is_rebuilt_from_its_history_in_checkpointed_batches(
    services: tuple[Settings, Container],
) -> None:
    settings, container = services
    recorder: MessageRecorder = await resolve(container.recorder)
    queries: MemoryQueries = await resolve(container.queries)
    tasks: TaskService = await resolve(container.task_service)
    await recorder.record_many(chat("g-rebuild", 45))
    await run_worker_until_idle(settings, container)
    before = await queries.show("g-rebuild")
    assert before.pending_messages == 5 and before.version == 2  # 2 x 20 integrated

    task = await tasks.submit("memory.rebuild_group", {"group_id": "g-rebuild"})
    await run_worker_until_idle(settings, container)
    done = await tasks.get(task.id)
    assert done.status is TaskStatus.DONE, done.error
    assert done.progress == 1.0
    assert isinstance(done.result, dict) and done.result["replayed"] == 40
    assert len(await tasks.checkpoints(task.id)) == 2  # two batches of 20, then the swap
    after = await queries.show("g-rebuild")
    assert after.version == before.version + 1
    assert sorted(m for t in after.topics for m in t.message_ids) == sorted(
        m for t in before.topics for m in t.message_ids
    )
    assert {t.topic_id for t in after.topics}.isdisjoint(t.topic_id for t in before.topics)
    [latest, *_] = await queries.history("g-rebuild", 1)
    assert latest.diff["rebuild"] == {"key": task.id, "replayed": 40} and latest.message_ids == ()


async def test_a_bad_group_id_is_refused_at_submit(services: tuple[Settings, Container]) -> None:
    _, container = services
    tasks: TaskService = await resolve(container.task_service)
    with pytest.raises(InvalidPayload, match="group_id"):
        await tasks.submit("memory.rebuild_group", {"group_id": "not a group!"})
