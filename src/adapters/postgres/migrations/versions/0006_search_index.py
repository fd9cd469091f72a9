"""The search index behind the memory context: postings, term frequencies, stats.

Existing integrated messages are indexed by ``ai-worker migrate`` (or ``memory reindex --stale``):
the index is derived from them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ident() -> sa.types.TypeEngine[str]:
    return sa.String(128).with_variant(sa.String(128, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "search_postings",
        sa.Column("group_id", _ident(), nullable=False),
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("message_id", _ident(), nullable=False),
        sa.Column("impact", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "term", "message_id", name="pk_search_postings"),
    )
    op.create_index(
        "ix_search_postings_group_id_term_impact",
        "search_postings",
        ["group_id", "term", "impact", "message_id"],
    )
    op.create_table(
        "search_terms",
        sa.Column("group_id", _ident(), nullable=False),
        sa.Column("term", sa.String(64), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "term", name="pk_search_terms"),
    )
    op.create_table(
        "search_stats",
        sa.Column("group_id", _ident(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("total_length", sa.BigInteger(), nullable=False),
        sa.Column("indexed_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", name="pk_search_stats"),
    )


def downgrade() -> None:
    op.drop_table("search_stats")
    op.drop_table("search_terms")
    op.drop_index("ix_search_postings_group_id_term_impact", table_name="search_postings")
    op.drop_table("search_postings")
