"""Relative times resolved against the day a message was said, in English and Chinese."""

from __future__ import annotations

from datetime import date

import pytest

from memory_domain.relative_dates import annotate

MONDAY = date(2023, 5, 8)


@pytest.mark.parametrize(
    ("text", "expected", "meant"),
    [
        ("I went there yesterday.", "I went there yesterday [7 May 2023].", ("2023-05-07",)),
        ("last night was fun", "last night [7 May 2023] was fun", ("2023-05-07",)),
        ("we met the day before yesterday", "we met the day before yesterday [6 May 2023]", ("2023-05-06",)),
        ("I ran a race last Saturday.", "I ran a race last Saturday [6 May 2023].", ("2023-05-06",)),
        # "last Monday" said on a Monday is a week ago, not today.
        ("last Monday", "last Monday [1 May 2023]", ("2023-05-01",)),
        ("Last Fri I took the kids", "Last Fri [5 May 2023] I took the kids", ("2023-05-05",)),
        ("two days ago", "two days ago [6 May 2023]", ("2023-05-06",)),
        ("3 weeks ago", "3 weeks ago [17 April 2023]", ("2023-04-17",)),
        ("I painted it last year", "I painted it last year [2022]", ("2022",)),
        ("ten years ago", "ten years ago [2013]", ("2013",)),
        ("last month I got hurt", "last month [April 2023] I got hurt", ("2023-04",)),
        ("see you tomorrow", "see you tomorrow [9 May 2023]", ("2023-05-09",)),
    ],
)
def test_english_relative_times_get_their_day(text: str, expected: str, meant: tuple[str, ...]) -> None:
    assert annotate(text, MONDAY) == (expected, meant)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我昨天去爬山了", "我昨天[2023年5月7日]去爬山了"),
        ("前天开的会", "前天[2023年5月6日]开的会"),
        ("去年我们搬家了", "去年[2022年]我们搬家了"),
        ("上周五发布的版本", "上周五[2023年5月5日]发布的版本"),
        ("上个月的报表", "上个月[2023年4月]的报表"),
        ("三天前提的需求", "三天前[2023年5月5日]提的需求"),
    ],
)
def test_chinese_relative_times_get_their_day_written_the_chinese_way(text: str, expected: str) -> None:
    assert annotate(text, MONDAY, cjk=True)[0] == expected


def test_vague_or_absolute_times_are_left_alone() -> None:
    for text in ("last week was busy", "recently", "on Friday", "I will go next week", "on 7 May 2023"):
        assert annotate(text, MONDAY) == (text, ())


def test_a_month_back_from_january_is_december_of_the_year_before() -> None:
    assert annotate("last month", date(2024, 1, 15)) == ("last month [December 2023]", ("2023-12",))


def test_compound_chinese_numerals_and_impossible_days_are_left_alone() -> None:
    assert annotate("十二天前", MONDAY, cjk=True) == ("十二天前", ())  # not "二天前"
    assert annotate("a few days ago", MONDAY) == ("a few days ago", ())  # how many is a few?
    assert annotate("99 years ago", date(50, 6, 1)) == ("99 years ago", ())
