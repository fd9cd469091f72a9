"""The memory context a chat service puts into a reply prompt: group memory and active topics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from memory_domain.group_model import ItemKind, MemoryItem
from memory_domain.group_ports import GroupMemoryStore
from memory_domain.model import Topic, validate_group_id
from memory_domain.ports import Clock, MemoryStore
from memory_domain.relevance import match, terms, weight

ITEMS_HEADING = "Group memory (settled over time):"
TOPICS_HEADING = "Current topics:"
MAX_BUDGET = 1_000_000
# An entry is cut to fit the budget only when this much of it still fits; less says nothing.
MIN_CUT_LINE = 24
# Added to an entry's weight (recency and support, each in [0, 1]): among entries that match a
# query equally, decisions and consensus come a little ahead of facts.
_KIND_BONUS = {
    ItemKind.DECISION: 0.3,
    ItemKind.CONSENSUS: 0.3,
    ItemKind.PREFERENCE: 0.2,
    ItemKind.OPEN_QUESTION: 0.1,
    ItemKind.FACT: 0.0,
}
_TOPIC_BONUS = 0.1


@dataclass(frozen=True, slots=True)
class MemoryContext:
    """A group's memory cut to a budget: structured, and as text ready for a prompt.

    ``items`` and ``topics`` are the entries that made it into ``text``, each most relevant
    first; ``omitted`` counts those left out for the budget, and ``truncated`` says the last
    entry in ``text`` was cut short. ``len(text)`` never exceeds ``budget_chars``.
    """

    group_id: str
    budget_chars: int
    query: str | None
    items: tuple[MemoryItem, ...]
    topics: tuple[Topic, ...]
    text: str
    omitted: int
    truncated: bool
    group_memory_version: int
    topic_version: int


@dataclass(frozen=True, slots=True)
class _Entry:
    relevance: float  # the share of the query's terms it holds (0 without a query)
    weight: float
    key: str
    line: str
    item: MemoryItem | None = None
    topic: Topic | None = None


class MemoryContextReader:
    """Reads what a reply prompt needs for a group, most relevant first, within a character budget.

    With a query, entries that share more of its terms always come first, however old or
    thinly supported; without one (and among equal matches), recent and frequently supported
    entries, decisions and consensus a little ahead of facts.
    """

    def __init__(self, store: MemoryStore, group_store: GroupMemoryStore, clock: Clock) -> None:
        self._store = store
        self._group_store = group_store
        self._clock = clock

    async def context(self, group_id: str, budget_chars: int, query: str | None = None) -> MemoryContext:
        validate_group_id(group_id)
        if not 0 <= budget_chars <= MAX_BUDGET:
            raise ValueError(f"budget_chars must be between 0 and {MAX_BUDGET}, got {budget_chars}")
        memory = await self._group_store.get_group_memory(group_id)
        topics = await self._store.get_topic_memory(group_id)
        now = self._clock.now()
        wanted = terms(query) if query and query.strip() else set()
        entries = [_item_entry(item, wanted, now) for item in memory.live_items]
        entries += [_topic_entry(topic, wanted, now) for topic in topics.topics]
        # More of the query's terms always wins; the weight only orders equal matches.
        entries.sort(key=lambda entry: (-entry.relevance, -entry.weight, entry.key))
        chosen, lines, truncated = _fit(entries, budget_chars)
        text = _render(lines)
        assert len(text) <= budget_chars
        return MemoryContext(
            group_id=group_id,
            budget_chars=budget_chars,
            query=query,
            items=tuple(entry.item for entry in chosen if entry.item is not None),
            topics=tuple(entry.topic for entry in chosen if entry.topic is not None),
            text=text,
            omitted=len(entries) - len(chosen),
            truncated=truncated,
            group_memory_version=memory.version,
            topic_version=topics.version,
        )


def _item_entry(item: MemoryItem, wanted: set[str], now: datetime) -> _Entry:
    relevance = match(wanted, item.text) if wanted else 0.0
    heft = weight(item.updated_at, len(item.message_ids), now, _KIND_BONUS[item.kind])
    label = item.kind.value.replace("_", " ")
    line = f"- [{label}] {_one_line(item.text)}"
    return _Entry(relevance, heft, f"0:{item.item_id}", line, item=item)


def _topic_entry(topic: Topic, wanted: set[str], now: datetime) -> _Entry:
    relevance = match(wanted, f"{topic.title}\n{topic.summary}") if wanted else 0.0
    heft = weight(topic.updated_at, len(topic.message_ids), now, _TOPIC_BONUS)
    line = f"- {_one_line(topic.title)}: {_one_line(topic.summary)}"
    return _Entry(relevance, heft, f"1:{topic.topic_id}", line, topic=topic)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fit(entries: list[_Entry], budget: int) -> tuple[list[_Entry], dict[str, list[str]], bool]:
    """The leading entries whose lines fit the budget (the last one cut when enough of it fits)."""
    lines: dict[str, list[str]] = {ITEMS_HEADING: [], TOPICS_HEADING: []}
    chosen: list[_Entry] = []
    used = 0
    for entry in entries:
        heading = ITEMS_HEADING if entry.item is not None else TOPICS_HEADING
        section = lines[heading]
        other = lines[TOPICS_HEADING if entry.item is not None else ITEMS_HEADING]
        # A section's first line brings its heading, and a blank line when the other section is there.
        overhead = 1 if section else len(heading) + 1 + (2 if other else 0)
        room = budget - used - overhead
        if len(entry.line) <= room:
            section.append(entry.line)
            chosen.append(entry)
            used += overhead + len(entry.line)
            continue
        if room >= MIN_CUT_LINE:
            section.append(entry.line[: room - 1].rstrip() + "…")
            chosen.append(entry)
            return chosen, lines, True
        break
    return chosen, lines, False


def _render(lines: dict[str, list[str]]) -> str:
    sections = ["\n".join([heading, *section]) for heading, section in lines.items() if section]
    return "\n\n".join(sections)
