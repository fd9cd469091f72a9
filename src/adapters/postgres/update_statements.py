"""The statements of the topic-update path, built once per dialect and run with parameters.

A topic update runs a dozen statements; building each anew (columns coerced, ``excluded``
aliases made, clauses copied) cost more CPU than running it. Built once, SQLAlchemy finds each
in its compiled cache at once, and on PostgreSQL asyncpg reuses each prepared statement.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.postgres.quarantine import PENDING
from adapters.postgres.tables import chat_messages, topic_memories, topic_revisions, topics

_messages = chat_messages.c
_REPLACED_TOPIC_COLUMNS = (
    "title",
    "summary",
    "message_ids",
    "message_count",
    "status",
    "created_at",
    "updated_at",
    "revision",
)


@dataclass(frozen=True)
class UpdateStatements:
    """Each statement takes its values as parameters: ``group``, ``ids``, ``limit``,
    ``expected``, ``new_version``, ``new_updated_at``, ``integrated_by``, or the columns' names
    for the inserts."""

    memory: sa.Select[Any]
    active_topics: sa.Select[Any]
    pending: sa.Select[Any]
    recent: sa.Select[Any]
    filed_by_ids: sa.Select[Any]
    create_memory: sa.Insert
    advance_memory: sa.Update
    add_revision: sa.Insert
    mark_integrated: sa.Update
    upsert_topics: sa.Insert
    pending_state: sa.Select[int, Any]


def _ids_parameter(dialect: str) -> sa.ColumnElement[bool]:
    if dialect == "postgresql":
        # One array parameter: the same text for any number of ids (one prepared statement).
        ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.Text()))
        return _messages.message_id == sa.any_(ids)
    return _messages.message_id.in_(sa.bindparam("ids", expanding=True))


@functools.cache
def update_statements(dialect: str) -> UpdateStatements:
    """The statements for ``dialect`` (``"postgresql"`` or ``"sqlite"``)."""
    group: sa.BindParameter[str] = sa.bindparam("group")
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(topics)
    return UpdateStatements(
        memory=sa.select(topic_memories.c.version, topic_memories.c.updated_at).where(
            topic_memories.c.group_id == group
        ),
        active_topics=sa.select(topics)
        .where(topics.c.group_id == group, topics.c.status == "active")
        .order_by(topics.c.updated_at.desc(), topics.c.topic_id),
        pending=sa.select(chat_messages)
        .where(_messages.group_id == group, PENDING)
        .order_by(_messages.sent_at, _messages.message_id)
        .limit(sa.bindparam("limit")),
        recent=sa.select(chat_messages)
        .where(_messages.group_id == group, _messages.revision.is_not(None))
        .order_by(_messages.sent_at.desc(), _messages.message_id.desc())
        .limit(sa.bindparam("limit")),
        filed_by_ids=sa.select(chat_messages).where(
            _messages.group_id == group, _ids_parameter(dialect), sa.not_(PENDING)
        ),
        # The first update creates the row; a concurrent first update that won the race makes
        # this insert a no-op, which is the stale case.
        create_memory=insert(topic_memories)
        .on_conflict_do_nothing(index_elements=["group_id"])
        .returning(topic_memories.c.group_id),
        advance_memory=sa.update(topic_memories)
        .where(topic_memories.c.group_id == group, topic_memories.c.version == sa.bindparam("expected"))
        .values(version=sa.bindparam("new_version"), updated_at=sa.bindparam("new_updated_at"))
        .returning(topic_memories.c.group_id),
        add_revision=sa.insert(topic_revisions),
        mark_integrated=sa.update(chat_messages)
        .where(_messages.group_id == group, _ids_parameter(dialect), PENDING)
        .values(revision=sa.bindparam("integrated_by"))
        .returning(*chat_messages.c),
        upsert_topics=upsert.on_conflict_do_update(
            index_elements=["group_id", "topic_id"],
            set_={name: upsert.excluded[name] for name in _REPLACED_TOPIC_COLUMNS},
        ),
        pending_state=sa.select(
            sa.func.count().label("pending"), sa.func.min(_messages.recorded_at).label("oldest")
        ).where(_messages.group_id == group, PENDING),
    )
