"""The group-memory (L3) tables, on the shared ``metadata`` (mirrored by migration 0003).

An item's readings are rows of ``group_memory_items``: a row is current from revision
``since_revision`` until ``until_revision`` (NULL while current), so the memory at any past
revision can be read back and nothing is ever overwritten or deleted.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.postgres.tables import UtcDateTime, ident, json_column_type, metadata


def _current_only() -> sa.TextClause:
    return sa.text("until_revision IS NULL")


group_memories = sa.Table(
    "group_memories",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
    # The topic-memory version the group memory was distilled up to.
    sa.Column("topic_version", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

group_memory_revisions = sa.Table(
    "group_memory_revisions",
    metadata,
    sa.Column("group_id", ident(), sa.ForeignKey("group_memories.group_id"), primary_key=True),
    sa.Column("revision", sa.Integer(), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("topic_version", sa.Integer(), nullable=False),
    sa.Column("topic_ids", json_column_type(), nullable=False),
    sa.Column("message_ids", json_column_type(), nullable=False),
    sa.Column("model", sa.Text(), nullable=False),
    sa.Column("prompt_tokens", sa.Integer(), nullable=False),
    sa.Column("completion_tokens", sa.Integer(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("diff", json_column_type(), nullable=False),
)

group_memory_items = sa.Table(
    "group_memory_items",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("item_id", ident(), primary_key=True),
    sa.Column("since_revision", sa.Integer(), primary_key=True),
    sa.Column("until_revision", sa.Integer(), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("topic_ids", json_column_type(), nullable=False),
    sa.Column("message_ids", json_column_type(), nullable=False),
    sa.Column("valid_from", UtcDateTime(), nullable=False),
    sa.Column("invalid_at", UtcDateTime(), nullable=True),
    sa.Column("superseded_by", ident(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(
        ["group_id", "since_revision"],
        ["group_memory_revisions.group_id", "group_memory_revisions.revision"],
        # The conventional name would pass PostgreSQL's 63-character limit.
        name="fk_group_memory_items_revision",
    ),
    # Every read of the current memory and every commit looks up the current readings only.
    sa.Index(
        "ix_group_memory_items_current",
        "group_id",
        "item_id",
        postgresql_where=_current_only(),
        sqlite_where=_current_only(),
    ),
)

group_memory_failures = sa.Table(
    "group_memory_failures",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("group_id", ident(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("error", sa.Text(), nullable=False),
    sa.Index("ix_group_memory_failures_group_id_created_at", "group_id", "created_at"),
)

consensus_slots = sa.Table(
    "consensus_slots",
    metadata,
    # One row per daily slot: claimed by one worker, completed once its evolutions are enqueued.
    sa.Column("slot_at", UtcDateTime(), primary_key=True),
    sa.Column("claimed_by", sa.String(64), nullable=False),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
    sa.Column("completed_at", UtcDateTime(), nullable=True),
    sa.Column("groups", sa.Integer(), nullable=True),
)
