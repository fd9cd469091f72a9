"""The frame of a group-memory item: who said it and when, written and read back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memory_domain.evolution_frame import Framed, agreed_note, confirmed_note, frame, split_frame

DAY = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def test_a_frame_writes_the_day_unambiguously_in_the_chats_language() -> None:
    assert frame("Ann", DAY, "I went to the gym.", cjk=False) == "Ann said on 8 May 2023: I went to the gym."
    assert frame("小王", DAY, "周六集合", cjk=True) == "小王于2023年5月8日说：周六集合"
    assert frame("Ann", DAY, "Who pays?", cjk=False, asked=True) == "Ann asked on 8 May 2023: Who pays?"
    assert frame("小李", DAY, "要带午饭吗？", cjk=True, asked=True) == "小李于2023年5月8日问：要带午饭吗？"


def test_notes_say_who_agreed_and_who_confirmed_on_which_day() -> None:
    assert agreed_note(["Bob"], cjk=False) == " (agreed by Bob)"
    assert agreed_note(["Bob", "Cat", "Dan"], cjk=False) == " (agreed by Bob, Cat and Dan)"
    assert agreed_note(["小张", "小赵"], cjk=True) == "（小张、小赵同意）"
    assert confirmed_note("Bob", None, cjk=False) == " (confirmed by Bob)"
    assert confirmed_note("老王", DAY, cjk=True) == "（老王于2023年5月8日确认）"


@pytest.mark.parametrize(
    ("text", "legacy", "expected"),
    [
        ("Mary Ann said on 8 May 2023: I went there yesterday [7 May 2023]. (agreed by Bob and Cat)", False,
         Framed("Mary Ann", "I went there yesterday.")),
        ("小李于2023年5月8日说：去香山吧，昨天[2023年5月7日]定的（小张、小赵同意）", False,
         Framed("小李", "去香山吧，昨天定的")),
        ("于敏于2023年5月8日问：要带午饭吗？", False, Framed("于敏", "要带午饭吗？")),
        ("Alice: I prefer green tea", True, Framed("Alice", "I prefer green tea")),
        # Without the legacy reading a colon is part of what a text says.
        ("Decision: Postgres for orders", False, Framed(None, "Decision: Postgres for orders")),
        ("周六去香山爬山，早上8点在西门集合。", False, Framed(None, "周六去香山爬山，早上8点在西门集合。")),
    ],
)  # fmt: skip
def test_a_framed_text_is_read_back_as_its_speaker_and_statement(
    text: str, legacy: bool, expected: Framed
) -> None:
    assert split_frame(text, legacy) == expected


def test_what_a_frame_writes_it_reads_back() -> None:
    for cjk, who, statement in (
        (False, "Ann Lee", "We moved: to Paris."),
        (True, "小王", "数据库迁移完成了"),
    ):
        written = frame(who, DAY, statement, cjk, note=agreed_note(["Bob", "Cat"], cjk))
        assert split_frame(written) == Framed(who, statement)
