"""How the memory context is laid out as text: sections, dated message lines, a hard budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

ITEMS_HEADING = "Group memory (settled over time):"
TOPICS_HEADING = "Current topics:"
MESSAGES_HEADING = "What was said:"
# An entry is cut to fit the budget only when this much of it still fits; less says nothing.
MIN_CUT_LINE = 24
_FULL_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def day_label(moment: datetime, cjk: bool) -> str:
    """A day as a reader of the chat's language writes it: "8 May 2023" or "2023年5月8日"."""
    day = moment
    if cjk:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_FULL_MONTHS[day.month - 1]} {day.year}"


def one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(slots=True)
class Layout:
    """Lines of the three sections; message lines are grouped under the day they were said."""

    budget: int
    items: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    days: dict[str, list[tuple[tuple[datetime, str], str]]] = field(default_factory=dict)
    used: int = 0
    truncated: bool = False

    def _overhead(self, section: str, day: str | None) -> int:
        present = {
            ITEMS_HEADING: bool(self.items),
            TOPICS_HEADING: bool(self.topics),
            MESSAGES_HEADING: bool(self.days),
        }
        cost = 1  # the newline before the line
        if not present[section]:
            # A section's first line brings its heading, and a blank line when another is there.
            cost = len(section) + 1 + (2 if any(present.values()) else 0)
        if day is not None and day not in self.days:
            cost += len(day) + 3  # "[day]" and its newline
        return cost

    def add(
        self,
        section: str,
        line: str,
        day: str | None = None,
        order: tuple[datetime, str] | None = None,
        cut: bool = True,
        limit: int | None = None,
    ) -> str | None:
        """Add a line if it fits within the budget (and within ``limit`` characters of text in
        all), cut short when ``cut`` and enough of it fits: the line as added, or None."""
        room = (
            min(self.budget, self.budget if limit is None else limit)
            - self.used
            - self._overhead(section, day)
        )
        if len(line) > room:
            if not cut or room < MIN_CUT_LINE:
                return None
            line = line[: room - 1].rstrip() + "…"
            self.truncated = True
        self.used += self._overhead(section, day) + len(line)
        if section == ITEMS_HEADING:
            self.items.append(line)
        elif section == TOPICS_HEADING:
            self.topics.append(line)
        else:
            assert day is not None and order is not None
            self.days.setdefault(day, []).append((order, line))
        return line

    def render(self) -> str:
        sections = []
        if self.items:
            sections.append("\n".join([ITEMS_HEADING, *self.items]))
        if self.topics:
            sections.append("\n".join([TOPICS_HEADING, *self.topics]))
        if self.days:
            lines = [MESSAGES_HEADING]
            # Days in time order, and the lines of a day in the order they were said.
            for day, entries in sorted(self.days.items(), key=lambda item: min(e[0] for e in item[1])):
                lines.append(f"[{day}]")
                lines.extend(line for _, line in sorted(entries))
            sections.append("\n".join(lines))
        return "\n\n".join(sections)


def is_cjk_text(texts: Sequence[str]) -> bool:
    """Whether most of the letters of these texts are CJK characters."""
    cjk = latin = 0
    for text in texts:
        for char in text:
            if "\u3400" <= char <= "\u9fff" or "\u3040" <= char <= "\u30ff" or "\uac00" <= char <= "\ud7af":
                cjk += 1
            elif char.isalpha():
                latin += 1
    # A CJK character says about as much as a short word: weigh it like three letters.
    return cjk * 3 > latin
