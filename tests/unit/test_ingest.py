"""``ai-worker ingest``'s loop: every line not recorded as given is reported with its line number."""

from __future__ import annotations

import json

from entrypoints.ingest import IngestReport, ingest_lines
from tests.support.world import World


def line(message_id: str, content: str = "the deploy plan", group_id: str = "g1", **extra: object) -> bytes:
    record = {
        "message_id": message_id,
        "group_id": group_id,
        "sender_id": "u1",
        "content": content,
        "sent_at": "2026-11-02T09:15:00+08:00",
        **extra,
    }
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


async def ingest(world: World, lines: list[bytes], batch_size: int = 500) -> tuple[IngestReport, list[str]]:
    reports: list[str] = []
    result = await ingest_lines(world.recorder, world.store, lines, "chat.jsonl", reports.append, batch_size)
    return result, reports


async def stored_content(world: World, message_id: str, group_id: str = "g1") -> str:
    [message] = await world.store.messages_by_ids(group_id, [message_id])
    return message.content


async def test_a_bad_byte_skips_its_line_alone_naming_it_and_the_good_lines_are_recorded() -> None:
    world = World()
    lines = [line("m1"), line("m2", "caf\u00e9").replace("é".encode(), b"\xe9"), line("m3")]
    result, reports = await ingest(world, lines)
    assert reports == ["chat.jsonl:2: skipped: not valid UTF-8 (byte 0xe9 at byte 74 of the line)"]
    assert (result.recorded, result.bad, result.complete) == (2, 1, False)
    assert (await world.store.pending_state("g1")).count == 2


async def test_a_message_id_given_again_with_other_content_keeps_the_first_and_reports_the_line() -> None:
    world = World()
    lines = [line("m1", "first words"), line("m2"), line("m1", "second words")]
    result, reports = await ingest(world, lines)
    assert reports == [
        "chat.jsonl:3: message id 'm1' of group g1 was already given on line 1 with other content; "
        "the first is kept"
    ]
    assert (result.recorded, result.duplicates, result.conflicts, result.complete) == (2, 0, 1, False)
    assert await stored_content(world, "m1") == "first words"


async def test_the_first_wins_and_is_reported_also_when_the_repeat_falls_in_a_later_batch() -> None:
    world = World()
    lines = [line("m1", "first words"), line("m2"), line("m3"), line("m1", "second words")]
    result, reports = await ingest(world, lines, batch_size=2)
    assert reports == [
        "chat.jsonl:4: message id 'm1' of group g1 was already given on line 1 with other content; "
        "the first is kept"
    ]
    assert (result.recorded, result.conflicts) == (3, 1)
    assert await stored_content(world, "m1") == "first words"


async def test_an_exact_repeat_is_a_silent_duplicate_and_the_same_id_in_another_group_is_another_message() -> (
    None
):
    world = World()
    lines = [line("m1"), line("m1"), line("m1", "other group, other text", group_id="g2")]
    result, reports = await ingest(world, lines)
    assert reports == []
    assert (result.recorded, result.duplicates, result.conflicts, result.complete) == (2, 1, 0, True)


async def test_a_message_recorded_by_an_earlier_run_with_other_content_is_reported_and_kept() -> None:
    world = World()
    await ingest(world, [line("m1", "recorded first"), line("m2")])
    result, reports = await ingest(world, [line("m0"), line("m1", "edited later"), line("m2")])
    assert reports == [
        "chat.jsonl:2: message id 'm1' of group g1 is already recorded with other content; "
        "the recorded one is kept"
    ]
    assert (result.recorded, result.duplicates, result.conflicts) == (1, 1, 1)
    assert await stored_content(world, "m1") == "recorded first"


async def test_ingesting_the_same_file_again_reports_no_conflict() -> None:
    world = World()
    lines = [line("m1", reply_to="m0", sender_name="小王"), line("m2", role="assistant")]
    await ingest(world, lines)
    result, reports = await ingest(world, lines)
    assert reports == [] and (result.recorded, result.duplicates, result.complete) == (0, 2, True)


async def test_an_id_with_control_characters_is_reported_escaped() -> None:
    world = World()
    result, reports = await ingest(world, [line("m\x1b[2J", "one"), line("m\x1b[2J", "two")])
    assert result.conflicts == 1 and "\x1b" not in reports[0] and "'m\\x1b[2J'" in reports[0]
