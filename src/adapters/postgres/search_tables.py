"""The search index behind the memory context (derived from ``chat_messages``; rebuildable).

Written in the transaction that integrates messages; ``ai-worker memory reindex`` rebuilds it.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.postgres.tables import ident, metadata

# One row per term of a document, with its BM25 impact; read best impact first per term.
search_postings = sa.Table(
    "search_postings",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("term", sa.String(64), primary_key=True),
    sa.Column("message_id", ident(), primary_key=True),
    sa.Column("impact", sa.Float(), nullable=False),
    # Scanned backwards for "best impact first, then message id" (both databases read a B-tree
    # index in either direction), so the best postings of a term come without sorting them all.
    sa.Index("ix_search_postings_group_id_term_impact", "group_id", "term", "impact", "message_id"),
)

# How many of the group's documents hold each term (for idf), kept as documents are added.
search_terms = sa.Table(
    "search_terms",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("term", sa.String(64), primary_key=True),
    sa.Column("frequency", sa.Integer(), nullable=False),
)

# The group's document count and total length (for the average length of BM25), and the topic
# version its messages are indexed up to: a group whose topic memory is ahead of it (messages
# integrated by a worker of an older release) is found and reindexed.
search_stats = sa.Table(
    "search_stats",
    metadata,
    sa.Column("group_id", ident(), primary_key=True),
    sa.Column("documents", sa.Integer(), nullable=False),
    sa.Column("total_length", sa.BigInteger(), nullable=False),
    sa.Column("indexed_version", sa.Integer(), nullable=False),
)
