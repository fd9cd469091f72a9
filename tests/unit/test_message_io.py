from __future__ import annotations

import json

import pytest

from entrypoints.message_io import message_to_json, parse_message_line

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
