"""The source-of-truth schema as SQLAlchemy Core tables, for queries.

The schema itself is made only by the Alembic migrations in ``migrations/``; these tables
mirror it (a test compares the two) and are never used to create anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

# Explicit constraint names keep the migrations and these tables in step, and let later
# migrations (batch mode on SQLite) refer to constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def ident() -> sa.types.TypeEngine[str]:
    """An id column type that sorts by code point on both databases.

    SQLite compares text bytewise; PostgreSQL would use the database's locale, so ids get the
    "C" collation there, which makes ``ORDER BY message_id`` agree with Python's ``sorted``.
    """
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def json_column_type() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that only accepts aware datetimes and always returns aware UTC ones.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so it stores naive UTC text,
    whose lexical order is its time order.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored: {value.isoformat()}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _pending_only() -> sa.TextClause:
    return sa.text("revision IS NULL")


def _quarantined_only() -> sa.TextClause:
    return sa.text("quarantined_at IS NOT NULL")


chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("message_id", ident(), primary_key=True),
    sa.Column("sender_id", sa.String(128), nullable=False),
    sa.Column("sender_name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=False),
    sa.Column("reply_to", sa.Text(), nullable=True),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    # NULL while the message is pending; the topic revision that integrated it afterwards.
    sa.Column("revision", sa.Integer(), nullable=True),
    # Failed updates whose batch held this message alone; at L2_QUARANTINE_AFTER_FAILURES it is
    # quarantined: set aside with its error (not pending, not integrated) until requeued.
    sa.Column("solo_failures", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("quarantined_at", UtcDateTime(), nullable=True),
    sa.Column("quarantine_error", sa.Text(), nullable=True),
    # The topic the message is filed in once integrated (a topic row keeps only its newest ids).
    sa.Column("topic_id", ident(), nullable=True),
    sa.ForeignKeyConstraint(
        ["group_id", "revision"], ["topic_revisions.group_id", "topic_revisions.revision"]
    ),
    # The pending backlog is read oldest first on every update; this index holds only it (and
    # the few quarantined messages, which the reads filter out).
    sa.Index(
        "ix_chat_messages_pending",
        "group_id",
        "sent_at",
        "message_id",
        postgresql_where=_pending_only(),
        sqlite_where=_pending_only(),
    ),
    sa.Index(
        "ix_chat_messages_quarantined",
        "group_id",
        "quarantined_at",
        "message_id",
        postgresql_where=_quarantined_only(),
        sqlite_where=_quarantined_only(),
    ),
    sa.Index("ix_chat_messages_group_id_sent_at", "group_id", "sent_at"),
)

topic_memories = sa.Table(
    "topic_memories",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

topics = sa.Table(
    "topics",
    metadata,
    sa.Column("group_id", ident(), sa.ForeignKey("topic_memories.group_id"), primary_key=True),
    sa.Column("topic_id", ident(), primary_key=True),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("message_ids", json_column_type(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    # Every message ever filed in the topic; ``message_ids`` holds only the newest of them.
    sa.Column("message_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Index("ix_topics_group_id_status", "group_id", "status"),
)

topic_revisions = sa.Table(
    "topic_revisions",
    metadata,
    sa.Column("group_id", ident(), sa.ForeignKey("topic_memories.group_id"), primary_key=True),
    sa.Column("revision", sa.Integer(), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("message_ids", json_column_type(), nullable=False),
    sa.Column("model", sa.Text(), nullable=False),
    sa.Column("prompt_tokens", sa.Integer(), nullable=False),
    sa.Column("completion_tokens", sa.Integer(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("diff", json_column_type(), nullable=False),
)

topic_update_failures = sa.Table(
    "topic_update_failures",
    metadata,
    # SQLite autoincrements only an INTEGER PRIMARY KEY, so BIGINT is PostgreSQL's alone.
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("group_id", ident(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("error", sa.Text(), nullable=False),
    sa.Column("message_ids", json_column_type(), nullable=False),
    sa.Index("ix_topic_update_failures_group_id_created_at", "group_id", "created_at"),
)
