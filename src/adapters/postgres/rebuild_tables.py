"""Staging of a topic rebuild: which rebuilt topic each replayed message went to."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.postgres.tables import ident, metadata

topic_rebuild_assignments = sa.Table(
    "topic_rebuild_assignments",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("rebuild_key", ident(), primary_key=True),
    sa.Column("message_id", ident(), primary_key=True),
    sa.Column("topic_id", ident(), nullable=False),
    sa.Column("position", sa.BigInteger(), nullable=False),
)
