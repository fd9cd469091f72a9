"""Relative times in chat ("yesterday", "last Friday", "two years ago", "昨天", "去年"), resolved
against the day a message was said, so that a reader of old messages knows which day they mean.

A reply model reading "I went there yesterday" months later cannot tell when "there" happened;
``annotate`` writes the resolved day after the expression: "yesterday [7 May 2023]". Only
expressions with one clear meaning are resolved; "last week", "recently" or "on Friday" (which
Friday?) are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "a couple of": 2,
}  # fmt: skip
_CN_NUMBERS = {
    "一": 1,
    "两": 2,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}
_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2, "thu": 3,
    "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5, "saturday": 5, "sun": 6,
    "sunday": 6,
}  # fmt: skip
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

# What a resolved expression means: a day, a month or a year.
Day = tuple[str, date]


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _last_weekday(day: date, weekday: int) -> date:
    """The most recent such weekday strictly before ``day``."""
    back = (day.weekday() - weekday) % 7 or 7
    return day - timedelta(days=back)


def _ago(amount: int, unit: str, day: date) -> Day:
    if unit.startswith("day"):
        return ("day", day - timedelta(days=amount))
    if unit.startswith("week"):
        return ("day", day - timedelta(weeks=amount))
    if unit.startswith("month"):
        return ("month", _shift_months(day, -amount))
    return ("year", date(day.year - amount, 1, 1))


_NUMBER_WORDS = "|".join(sorted((re.escape(w) for w in _NUMBERS), key=len, reverse=True))
_WEEKDAY_WORDS = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_ENGLISH: list[tuple[re.Pattern[str], Callable[[re.Match[str], date], Day]]] = [
    (re.compile(r"\bthe day before yesterday\b", re.I), lambda m, d: ("day", d - timedelta(days=2))),
    (re.compile(r"\b(?:yesterday|last night)\b", re.I), lambda m, d: ("day", d - timedelta(days=1))),
    (re.compile(r"\btomorrow\b", re.I), lambda m, d: ("day", d + timedelta(days=1))),
    (re.compile(r"\blast year\b", re.I), lambda m, d: ("year", date(d.year - 1, 1, 1))),
    (re.compile(r"\bnext year\b", re.I), lambda m, d: ("year", date(d.year + 1, 1, 1))),
    (re.compile(r"\blast month\b", re.I), lambda m, d: ("month", _shift_months(d, -1))),
    (re.compile(r"\bnext month\b", re.I), lambda m, d: ("month", _shift_months(d, 1))),
    (
        re.compile(rf"\blast ({_WEEKDAY_WORDS})\b", re.I),
        lambda m, d: ("day", _last_weekday(d, _WEEKDAYS[m.group(1).lower()])),
    ),
    (
        re.compile(rf"\b(\d{{1,2}}|{_NUMBER_WORDS}) (days?|weeks?|months?|years?) ago\b", re.I),
        lambda m, d: _ago(
            int(m.group(1)) if m.group(1).isdigit() else _NUMBERS[m.group(1).lower()], m.group(2).lower(), d
        ),
    ),
]
_CN_NUMBER = "|".join(_CN_NUMBERS)
_CHINESE: list[tuple[re.Pattern[str], Callable[[re.Match[str], date], Day]]] = [
    (re.compile("前天"), lambda m, d: ("day", d - timedelta(days=2))),
    (re.compile("昨天|昨晚|昨日"), lambda m, d: ("day", d - timedelta(days=1))),
    (re.compile("明天"), lambda m, d: ("day", d + timedelta(days=1))),
    (re.compile("去年"), lambda m, d: ("year", date(d.year - 1, 1, 1))),
    (re.compile("上个?月"), lambda m, d: ("month", _shift_months(d, -1))),
    (
        re.compile("上(?:周|星期|礼拜)([一二三四五六日天])"),
        lambda m, d: ("day", _last_weekday(d, _CN_WEEKDAYS[m.group(1)])),
    ),
    (
        # Not after another numeral: "十二天前" is not "二天前".
        re.compile(f"(?<![\\d零一二两三四五六七八九十百千])(\\d{{1,2}}|{_CN_NUMBER})(天|年)前"),
        lambda m, d: _ago(
            int(m.group(1)) if m.group(1).isdigit() else _CN_NUMBERS[m.group(1)],
            "day" if m.group(2) == "天" else "year",
            d,
        ),
    ),
]


def label(resolved: Day, cjk: bool) -> str:
    kind, day = resolved
    if cjk:
        return {"day": f"{day.year}年{day.month}月{day.day}日", "month": f"{day.year}年{day.month}月"}.get(
            kind, f"{day.year}年"
        )
    if kind == "day":
        return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    return f"{_MONTHS[day.month - 1]} {day.year}" if kind == "month" else str(day.year)


def resolve(text: str, said_on: date) -> list[tuple[int, Day]]:
    """Each relative time in ``text`` with where it ends and what it resolves to, in text order.

    Overlapping expressions resolve once, the one that starts first (and is longest) winning.
    """
    found: list[tuple[int, int, Day]] = []
    for pattern, meaning in (*_ENGLISH, *_CHINESE):
        for match in pattern.finditer(text):
            try:
                found.append((match.start(), match.end(), meaning(match, said_on)))
            except (OverflowError, ValueError):
                continue  # "99 years ago" said in year 50: no such day, nothing to write

    found.sort(key=lambda item: (item[0], -item[1]))
    kept: list[tuple[int, Day]] = []
    reach = -1
    for start, end, resolved in found:
        if start >= reach:
            kept.append((end, resolved))
            reach = end
    return kept


def iso(resolved: Day) -> str:
    """A resolved time as ISO 8601 at its own precision: "2023-05-07", "2023-04" or "2022"."""
    kind, day = resolved
    return day.isoformat() if kind == "day" else day.isoformat()[: 7 if kind == "month" else 4]


def annotate(text: str, said_on: date, cjk: bool = False) -> tuple[str, tuple[str, ...]]:
    """``text`` with what each relative time means written after it, and those times (ISO)."""
    resolved = resolve(text, said_on)
    if not resolved:
        return text, ()
    parts: list[str] = []
    last = 0
    for end, meaning in resolved:
        parts.append(text[last:end])
        parts.append(f"[{label(meaning, cjk)}]" if cjk else f" [{label(meaning, cjk)}]")
        last = end
    parts.append(text[last:])
    return "".join(parts), tuple(iso(meaning) for _, meaning in resolved)
