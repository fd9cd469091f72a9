"""Which changed topics one evolution reads, and the watermark it may commit for them.

An evolution reads at most ``topic_limit`` topics. They are taken in the order of the topic
revision that last wrote them (the oldest first; within one revision the active ones, then by
id), and the evolution commits as its topic version the last revision it read whole, so the
next evolution goes on with the topics it left. A single revision holding more topics than the
limit (a rebuilt topic memory) is read in parts: the revision's *cursor*, kept in the diff of
the group-memory revision, names the last topic of it read so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memory_domain.group_model import TopicChanges
from memory_domain.model import Topic, TopicStatus

CURSOR_KEY = "topic_cursor"

Cursor = tuple[int, int, str]  # (topic revision, 0 active / 1 archived, topic id)


@dataclass(frozen=True, slots=True)
class TopicWindow:
    """The topics of one evolution, and where the next one starts.

    ``topic_version`` is the watermark to commit; ``cursor`` the position inside the revision
    after it when that revision was read only in part; ``messages_until`` the newest revision
    whose topics the window holds; ``more`` says topics remain; ``whole`` says this window
    holds every changed topic (so every new message belongs to it).
    """

    topics: tuple[Topic, ...]
    topic_version: int
    messages_until: int
    cursor: Cursor | None
    more: bool
    whole: bool


def position(topic: Topic, revision: int) -> Cursor:
    return (revision, 0 if topic.status is TopicStatus.ACTIVE else 1, topic.topic_id)


def read_cursor(diff: Mapping[str, Any], topic_version: int) -> Cursor | None:
    """The cursor a revision's diff holds, if it is inside the revision after ``topic_version``."""
    raw = diff.get(CURSOR_KEY)
    if not isinstance(raw, list) or len(raw) != 3:
        return None
    revision, rank, topic_id = raw
    if not (isinstance(revision, int) and isinstance(rank, int) and isinstance(topic_id, str)):
        return None
    return (revision, rank, topic_id) if revision == topic_version + 1 else None


def choose_topics(
    changes: TopicChanges, since_topic_version: int, cursor: Cursor | None, limit: int
) -> TopicWindow:
    """The next ``limit`` changed topics after ``cursor`` and the watermark that covers them."""
    revisions = changes.topic_revisions

    def revision_of(topic: Topic) -> int:
        # A store that does not say which revision wrote a topic: the newest one did.
        return revisions.get(topic.topic_id, changes.topic_version)

    ordered = sorted(changes.topics, key=lambda topic: position(topic, revision_of(topic)))
    pending = [t for t in ordered if cursor is None or position(t, revision_of(t)) > cursor]
    chunk, rest = pending[: max(1, limit)], pending[max(1, limit) :]
    last = position(chunk[-1], revision_of(chunk[-1])) if chunk else (changes.topic_version, 0, "")
    if not rest:
        window_version, next_cursor = changes.topic_version, None
    else:
        if revision_of(rest[0]) > last[0]:
            window_version, next_cursor = last[0], None
        else:  # the revision goes on after this window: remember where
            window_version, next_cursor = last[0] - 1, last
    # The reader sees the active topics first, then the most recently updated.
    shown = sorted(chunk, key=lambda topic: topic.updated_at, reverse=True)
    shown.sort(key=lambda topic: topic.status is not TopicStatus.ACTIVE)
    return TopicWindow(
        topics=tuple(shown),
        topic_version=max(window_version, since_topic_version),
        messages_until=changes.topic_version if not rest else last[0],
        cursor=next_cursor,
        more=bool(rest),
        whole=not rest and cursor is None,
    )
