"""Bad messages: each refused naming its problem, and the good ones beside it recorded
(docs/RELIABILITY.md, the bad-input table)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from entrypoints.ingest import ingest_lines
from entrypoints.message_io import parse_message_line
from entrypoints.metered_ports import CountingRecorder
from memory_domain.errors import InvalidMessage
from tests.support.world import World, message

GOOD: dict[str, Any] = {
    "message_id": "m1",
    "group_id": "team",
    "sender_id": "u1",
    "content": "the deploy is on Friday",
    "sent_at": "2026-11-02T09:15:00+00:00",
}


def without(field: str) -> dict[str, Any]:
    return {key: value for key, value in GOOD.items() if key != field}


# (the line, what the refusal must say)
BAD_LINES = [
    ('{"message_id": "m1", "group_id": ', "not valid JSON"),
    ("null", "expected a JSON object, got NoneType"),
    ('"just text"', "expected a JSON object, got str"),
    (json.dumps(without("message_id")), "message_id: Field required"),
    (json.dumps(without("group_id")), "group_id: Field required"),
    (json.dumps(without("sender_id")), "sender_id: Field required"),
    (json.dumps(without("content")), "content: Field required"),
    (json.dumps({**GOOD, "message_id": 17}), "message_id: Input should be a valid string"),
    (json.dumps({**GOOD, "group_id": ["team"]}), "group_id: Input should be a valid string"),
    (json.dumps({**GOOD, "content": {"text": "hi"}}), "content: Input should be a valid string"),
    (json.dumps({**GOOD, "sent_at": "next tuesday"}), "sent_at: Input should be a valid datetime"),
    (json.dumps({**GOOD, "sent_at": True}), "sent_at"),
    (json.dumps({**GOOD, "reply_to": 5}), "reply_to: Input should be a valid string"),
    (json.dumps({**GOOD, "content": ""}), "content: String should have at least 1 character"),
    (json.dumps({**GOOD, "content": " \t\n "}), "content must be a non-empty string"),
    (json.dumps({**GOOD, "content": "a\u0000b"}), "content contains a NUL character"),
    (json.dumps({**GOOD, "sender_id": "u\u00001"}), "sender_id contains a NUL character"),
    (
        '{"message_id": "m1", "group_id": "team", "sender_id": "u1", "content": "x\\ud800y", '
        '"sent_at": "2026-11-02T09:15:00Z"}',
        "content: not valid Unicode (a lone surrogate at character 2)",
    ),
    (json.dumps({**GOOD, "sent_at": "2999-12-31T23:59:59-05:00"}), "out of range (1900 to 2999)"),
    (json.dumps({**GOOD, "sent_at": "1066-10-14T09:00:00+00:00"}), "out of range (1900 to 2999)"),
    (json.dumps({**GOOD, "sent_at": 1762074900}), "is a number; give an ISO 8601 date"),
    (json.dumps({**GOOD, "message_id": "m" * 129}), "message_id: String should have at most 128"),
    (json.dumps({**GOOD, "group_id": "team chat"}), "group_id 'team chat' is invalid"),
    (json.dumps({**GOOD, "content": "x" * 32_001}), "content is longer than 32000 characters"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_LINES)
def test_a_bad_message_is_refused_naming_its_problem(line: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_message_line(line)
    assert problem in str(raised.value)


def test_control_characters_other_than_nul_are_chat_data_and_kept_verbatim() -> None:
    text = "bell \a escape \x1b[31m red \x1b]0;title\a tab\t back\b"
    parsed = parse_message_line(json.dumps({**GOOD, "content": text}))
    assert parsed.content == text


def test_content_over_a_lower_message_max_chars_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"content: 101 characters, more than MESSAGE_MAX_CHARS \(100\)"):
        parse_message_line(json.dumps({**GOOD, "content": "x" * 101}), max_content_chars=100)
    assert parse_message_line(json.dumps({**GOOD, "content": "x" * 100}), max_content_chars=100)


async def test_ingest_records_every_good_line_and_names_each_bad_one_by_its_line() -> None:
    world = World()
    lines = [json.dumps({**GOOD, "message_id": "good-first"}).encode()]
    lines += [bad.encode() for bad, _ in BAD_LINES]
    lines += [json.dumps({**GOOD, "message_id": "good-last"}).encode()]
    reports: list[str] = []
    result = await ingest_lines(world.recorder, world.store, lines, "chat.jsonl", reports.append)
    assert (result.recorded, result.bad) == (2, len(BAD_LINES))
    for number, (_, problem) in enumerate(BAD_LINES, start=2):
        [report] = [r for r in reports if r.startswith(f"chat.jsonl:{number}: skipped: ")]
        assert problem in report
    stored = await world.store.messages_by_ids("team", ["good-first", "good-last"])
    assert sorted(m.message_id for m in stored) == ["good-first", "good-last"]


async def test_ingest_applies_the_recorders_message_max_chars() -> None:
    world = World()
    recorder = CountingRecorder(world.store, world.pending, world.policy, world.clock, max_content_chars=50)
    lines = [
        json.dumps({**GOOD, "content": "x" * 51}).encode(),
        json.dumps({**GOOD, "message_id": "m2"}).encode(),
    ]
    reports: list[str] = []
    result = await ingest_lines(recorder, world.store, lines, "in", reports.append)
    assert reports == ["in:1: skipped: content: 51 characters, more than MESSAGE_MAX_CHARS (50)"]
    assert result.recorded == 1


async def test_the_recorder_refuses_a_batch_with_an_overlong_message_naming_it_and_stores_none() -> None:
    world = World()
    recorder = CountingRecorder(world.store, world.pending, world.policy, world.clock, max_content_chars=50)
    batch = [message("fine", content="short"), message("long", content="y" * 51)]
    with pytest.raises(
        InvalidMessage, match=r"message 'long': content is 51 characters, more than MESSAGE_MAX_CHARS"
    ):
        await recorder.record_many(batch)
    assert (await world.store.pending_state("g1")).count == 0


async def test_one_id_twice_with_other_content_keeps_the_first_and_reports_the_second() -> None:
    world = World()
    first = json.dumps({**GOOD, "content": "first words"}).encode()
    second = json.dumps({**GOOD, "content": "second words"}).encode()
    reports: list[str] = []
    result = await ingest_lines(world.recorder, world.store, [first, second], "in", reports.append)
    assert reports == [
        "in:2: message id 'm1' of group team was already given on line 1 with other content; the first is kept"
    ]
    [stored] = await world.store.messages_by_ids("team", ["m1"])
    assert (stored.content, result.conflicts) == ("first words", 1)
