from __future__ import annotations

from datetime import timedelta

import pytest

from memory_domain.errors import IndexUnavailable, InvalidMessage
from memory_domain.model import ChatMessage
from memory_domain.recording import MAX_BATCH
from tests.support.world import START, World, message, messages


async def test_recording_stores_messages_as_pending_and_counts_them_per_group() -> None:
    world = World()
    result = await world.recorder.record_many(messages(3, "g1") + messages(2, "g2", prefix="x"))
    assert (result.recorded, result.duplicates) == (3 + 2, 0)
    assert (await world.store.pending_state("g1")).count == 3
    assert world.index.counts == {"g1": 3, "g2": 2}
    assert world.index.due["g1"] == START + timedelta(minutes=60)


async def test_recording_the_same_message_twice_stores_and_counts_it_once() -> None:
    world = World()
    await world.recorder.record(message("m1"))
    again = await world.recorder.record_many([message("m1"), message("m1")])
    assert (again.recorded, again.duplicates) == (0, 2)
    assert (await world.store.pending_state("g1")).count == 1
    assert world.index.counts == {"g1": 1}


async def test_the_update_is_enqueued_the_moment_the_threshold_is_reached() -> None:
    world = World()
    first = await world.recorder.record_many(messages(9))
    assert first.enqueued_groups == () and world.queue.queued == []
    tenth = await world.recorder.record(message("m0009", minutes=9))
    assert tenth.enqueued_groups == ("g1",)
    assert world.queue.queued == ["g1"]
    eleventh = await world.recorder.record(message("m0010", minutes=10))
    assert eleventh.enqueued_groups == ()  # already queued: one update per group
    assert world.queue.queued == ["g1"]


async def test_the_due_time_is_set_by_the_oldest_pending_message_only() -> None:
    world = World()
    await world.recorder.record(message("m1"))
    world.clock.advance(timedelta(minutes=30))
    await world.recorder.record(message("m2"))
    assert world.index.due["g1"] == START + timedelta(minutes=60)


class BrokenPending:
    async def record_pending(
        self, counts: dict[str, int], due_at: object, now: object, threshold: int
    ) -> list[str]:
        raise IndexUnavailable("Redis is unreachable")


async def test_messages_are_stored_even_when_the_pending_index_is_down() -> None:
    world = World()
    world.recorder._pending = BrokenPending()  # type: ignore[assignment]
    with pytest.raises(IndexUnavailable):
        await world.recorder.record_many(messages(3))
    assert (await world.store.pending_state("g1")).count == 3


async def test_a_batch_with_a_non_message_is_refused_before_anything_is_stored() -> None:
    world = World()
    with pytest.raises(InvalidMessage, match="expected ChatMessage"):
        await world.recorder.record_many([message("m1"), {"message_id": "m2"}])  # type: ignore[list-item]
    assert (await world.store.pending_state("g1")).count == 0


async def test_an_oversized_batch_is_refused_with_the_limit_named() -> None:
    world = World()
    too_many = [message(f"m{i}") for i in range(MAX_BATCH + 1)]
    with pytest.raises(InvalidMessage, match=str(MAX_BATCH)):
        await world.recorder.record_many(too_many)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("group_id", "bad group id!", "group_id"),
        ("group_id", "", "group_id"),
        ("content", "   ", "content"),
        ("message_id", "", "message_id"),
        ("sent_at", START.replace(tzinfo=None), "timezone"),
    ],
)
def test_a_malformed_message_is_refused_naming_the_field(field: str, value: object, problem: str) -> None:
    fields = {
        "message_id": "m1",
        "group_id": "g1",
        "sender_id": "u1",
        "sender_name": "U",
        "role": message("x").role,
        "content": "hi",
        "sent_at": START,
    }
    fields[field] = value
    with pytest.raises(InvalidMessage, match=problem):
        ChatMessage(**fields)  # type: ignore[arg-type]


def test_a_nul_character_is_refused_as_every_store_would() -> None:
    with pytest.raises(InvalidMessage, match="NUL"):
        message("m1", content="bad \x00 byte")


async def test_a_group_in_failure_backoff_is_not_enqueued_by_new_messages() -> None:
    world = World()
    await world.recorder.record_many(messages(10))
    world.queue.queued.clear()
    await world.index.defer("g1", world.clock.now() + timedelta(minutes=5))
    result = await world.recorder.record(message("late", minutes=20))
    assert result.enqueued_groups == () and world.queue.queued == []
    world.clock.advance(timedelta(minutes=6))
    assert (await world.recorder.record(message("later", minutes=21))).enqueued_groups == ("g1",)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("message_id", " m1", "whitespace"),
        ("sender_id", "u1 ", "whitespace"),
        ("content", "lone \ud800 surrogate", "Unicode"),
    ],
)
def test_ids_with_blanks_and_broken_unicode_are_refused(field: str, value: str, problem: str) -> None:
    fields = {"message_id": "m1", "sender_id": "u1", "content": "hi"}
    fields[field] = value
    with pytest.raises(InvalidMessage, match=problem):
        message(fields["message_id"], content=fields["content"], sender=fields["sender_id"])


def test_a_time_that_cannot_be_expressed_in_utc_is_refused() -> None:
    from datetime import datetime, timezone

    with pytest.raises(InvalidMessage, match="out of range"):
        ChatMessage(
            "m1",
            "g1",
            "u1",
            "U",
            message("x").role,
            "hi",
            datetime.max.replace(tzinfo=timezone(-timedelta(hours=5))),
        )


async def test_a_message_id_given_twice_in_one_batch_keeps_the_first_as_the_store_keeps_the_first_recording() -> (
    None
):
    world = World()
    result = await world.recorder.record_many(
        [message("m1", content="first"), message("m1", content="second")]
    )
    assert (result.recorded, result.duplicates) == (1, 1)
    [stored] = await world.store.messages_by_ids("g1", ["m1"])
    assert stored.content == "first"


async def test_a_group_exists_once_a_message_of_it_is_recorded_pending_or_integrated() -> None:
    world = World()
    assert not await world.queries.exists("g1")
    await world.recorder.record_many(messages(10))
    assert await world.queries.exists("g1") and not await world.queries.exists("g2")
    await world.drain()
    assert (await world.store.pending_state("g1")).count == 0
    assert await world.queries.exists("g1")
    with pytest.raises(InvalidMessage, match="group_id"):
        await world.queries.exists("bad group!")
