from __future__ import annotations

import json

import pytest

from entrypoints.message_io import message_to_json, parse_message_line, read_message_lines
from memory_domain.model import ChatMessage

GOOD = {
    "message_id": "m1",
    "group_id": "team-cn",
    "sender_id": "u1",
    "sender_name": "小王",
    "content": "@老张 迁移脚本我改好了",
    "sent_at": "2026-11-02T09:15:00+08:00",
    "reply_to": "m0",
}


def test_a_good_line_becomes_a_message_in_utc_with_chinese_intact() -> None:
    message = parse_message_line(json.dumps(GOOD, ensure_ascii=False))
    assert message.sent_at.isoformat() == "2026-11-02T01:15:00+00:00"
    assert message.content == GOOD["content"] and message.role.value == "user"
    assert message_to_json(message)["reply_to"] == "m0"


def test_a_time_without_a_zone_is_taken_as_utc() -> None:
    message = parse_message_line(json.dumps({**GOOD, "sent_at": "2026-11-02T09:15:00"}))
    assert message.sent_at.isoformat() == "2026-11-02T09:15:00+00:00"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({**GOOD, "content": ""}), "content"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "sent_at"}), "sent_at"),
        (json.dumps({**GOOD, "role": "boss"}), "role"),
        (json.dumps({**GOOD, "group_id": "bad group!"}), "group_id"),
        (json.dumps({**GOOD, "sent_at": "9999-12-31T23:30:00-05:00"}), "range"),
        (json.dumps({**GOOD, "message_id": " m1"}), "whitespace"),
    ],
)
def test_a_bad_line_raises_value_error_naming_the_problem(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_message_line(line)


def test_a_message_sent_before_1900_or_after_2999_is_refused_naming_the_range() -> None:
    for sent_at in ("0001-01-01T00:00:00+00:00", "1899-12-31T23:59:59+00:00", "3000-01-01T00:00:00+00:00"):
        with pytest.raises(ValueError, match="out of range"):
            parse_message_line(json.dumps({**GOOD, "sent_at": sent_at}))


@pytest.mark.parametrize(
    "sent_at", [1_762_074_900, 1_762_074_900_000, 1.7620749e9, "1762074900", " 1762074900 "]
)
def test_a_sent_at_given_as_a_number_is_refused_naming_the_field(sent_at: object) -> None:
    # pydantic would read it as a Unix time in seconds or milliseconds, guessing by its size.
    with pytest.raises(ValueError, match=r"^sent_at: .* is a number; give an ISO 8601 date and time"):
        parse_message_line(json.dumps({**GOOD, "sent_at": sent_at}))


def test_read_lines_decodes_each_line_alone_so_a_bad_byte_spoils_only_its_line() -> None:
    good = json.dumps(GOOD, ensure_ascii=False).encode()
    bad = (
        json.dumps({**GOOD, "message_id": "m2"}, ensure_ascii=False)
        .encode()
        .replace("小王".encode(), b"\xff")
    )
    lines = [good + b"\n", bad + b"\n", b"\n", good.replace(b'"m1"', b'"m3"')]
    read = list(read_message_lines(lines))
    assert [number for number, _ in read] == [1, 2, 4]
    assert isinstance(read[0][1], ChatMessage) and isinstance(read[2][1], ChatMessage)
    column = bad.index(0xFF) + 1
    assert read[1][1] == f"not valid UTF-8 (byte 0xff at byte {column} of the line)"


def test_read_lines_skips_a_utf8_byte_order_mark_at_the_start() -> None:
    line = json.dumps(GOOD, ensure_ascii=False).encode("utf-8-sig") + b"\r\n"
    [(number, message)] = list(read_message_lines([line]))
    assert number == 1 and isinstance(message, ChatMessage) and message.message_id == "m1"
