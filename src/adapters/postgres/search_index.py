"""The search index on PostgreSQL or SQLite: written with the topic commit, read by the context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.engine import storage_errors
from adapters.postgres.search_tables import search_postings, search_stats, search_terms
from adapters.postgres.statements import dialect_insert
from adapters.postgres.tables import chat_messages, topic_memories
from adapters.postgres.topic_rows import message_from_row
from memory_domain.model import ChatMessage, validate_group_id
from memory_domain.search import (
    REINDEX_BATCH,
    IndexedDocument,
    Posting,
    SearchResult,
    TermHits,
    index_documents,
    postings_to_read,
)

# The whole index write of one commit on PostgreSQL, in one round trip: data-modifying WITH
# clauses always run to completion, read or not. Arrays make the text the same for any number
# of rows, so asyncpg prepares it once per connection.
_WRITE_INDEX = """
WITH postings AS (
    INSERT INTO search_postings (group_id, term, message_id, impact)
    SELECT $1, term, message_id, impact FROM unnest($2::text[], $3::text[], $4::float8[])
        AS p(term, message_id, impact)
), terms AS (
    INSERT INTO search_terms (group_id, term, frequency)
    SELECT $1, term, frequency FROM unnest($5::text[], $6::int[]) AS t(term, frequency)
    ON CONFLICT (group_id, term) DO UPDATE SET frequency = search_terms.frequency + excluded.frequency
)
INSERT INTO search_stats (group_id, documents, total_length, indexed_version)
VALUES ($1, $7, $8, $9)
ON CONFLICT (group_id) DO UPDATE SET
    documents = search_stats.documents + excluded.documents,
    total_length = search_stats.total_length + excluded.total_length,
    indexed_version = excluded.indexed_version
"""
_READ_STATS = "SELECT documents, total_length FROM search_stats WHERE group_id = $1"


async def write_documents(
    connection: AsyncConnection,
    engine: AsyncEngine,
    group_id: str,
    messages: Sequence[ChatMessage],
    version: int,
) -> None:
    """Index newly integrated messages inside the caller's transaction, up to topic ``version``.

    The caller holds the group's topic-memory row (the version-guarded write comes first), so
    the statistics of one group are never updated by two transactions at once.
    """
    if engine.dialect.name == "postgresql":
        await _write_on_postgres(connection, group_id, messages, version)
        return
    stats = (
        await connection.execute(
            sa.select(search_stats.c.documents, search_stats.c.total_length).where(
                search_stats.c.group_id == group_id
            )
        )
    ).first()
    documents, total_length = (stats.documents, stats.total_length) if stats is not None else (0, 0)
    indexed = index_documents(messages, documents, total_length)
    postings, frequencies = _postings(indexed)
    if postings:
        # Executemany with one compiled statement (SQLAlchemy batches the rows itself).
        await connection.execute(
            sa.insert(search_postings),
            [{"group_id": group_id, "term": t, "message_id": m, "impact": w} for t, m, w in postings],
        )
        insert = dialect_insert(engine, search_terms)
        await connection.execute(
            insert.on_conflict_do_update(
                index_elements=["group_id", "term"],
                set_={"frequency": search_terms.c.frequency + insert.excluded.frequency},
            ),
            [{"group_id": group_id, "term": t, "frequency": n} for t, n in sorted(frequencies.items())],
        )
    insert = dialect_insert(engine, search_stats)
    await connection.execute(
        insert.values(
            group_id=group_id,
            documents=len(indexed),
            total_length=sum(document.length for document in indexed),
            indexed_version=version,
        ).on_conflict_do_update(
            index_elements=["group_id"],
            set_={
                "documents": search_stats.c.documents + insert.excluded.documents,
                "total_length": search_stats.c.total_length + insert.excluded.total_length,
                "indexed_version": insert.excluded.indexed_version,
            },
        )
    )


async def _write_on_postgres(
    connection: AsyncConnection, group_id: str, messages: Sequence[ChatMessage], version: int
) -> None:
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    stats = await raw.fetchrow(_READ_STATS, group_id)
    documents, total_length = (stats["documents"], stats["total_length"]) if stats is not None else (0, 0)
    indexed = index_documents(messages, documents, total_length)
    postings, frequencies = _postings(indexed)
    terms = sorted(frequencies)
    await raw.execute(
        _WRITE_INDEX,
        group_id,
        [term for term, _, _ in postings],
        [message_id for _, message_id, _ in postings],
        [impact for _, _, impact in postings],
        terms,
        [frequencies[term] for term in terms],
        len(indexed),
        sum(document.length for document in indexed),
        version,
    )


def _postings(indexed: Sequence[IndexedDocument]) -> tuple[list[tuple[str, str, float]], dict[str, int]]:
    """(term, message id, impact) of each posting, and how many documents hold each term."""
    postings: list[tuple[str, str, float]] = []
    frequencies: dict[str, int] = {}
    for document in indexed:
        for term, weight in document.impacts.items():
            postings.append((term, document.message_id, weight))
            frequencies[term] = frequencies.get(term, 0) + 1
    return postings, frequencies


class SqlSearchIndex:
    """Reads the index a query at a time; rebuilds a group's index from its messages."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def search(self, group_id: str, terms: Sequence[str], per_term: int) -> SearchResult:
        validate_group_id(group_id)
        terms = list(dict.fromkeys(terms))
        with storage_errors(self._engine.url, "search the memory"):
            async with self._engine.connect() as connection:
                stats = (
                    await connection.execute(
                        sa.select(search_stats.c.documents, search_stats.c.total_length).where(
                            search_stats.c.group_id == group_id
                        )
                    )
                ).first()
                if stats is None or not terms or per_term <= 0:
                    documents = stats.documents if stats is not None else 0
                    average = stats.total_length / documents if stats is not None and documents else 0.0
                    return SearchResult(documents, average, tuple(TermHits(t, 0, ()) for t in terms))
                frequency = dict(
                    (
                        await connection.execute(
                            sa.select(search_terms.c.term, search_terms.c.frequency).where(
                                search_terms.c.group_id == group_id, search_terms.c.term.in_(terms)
                            )
                        )
                    ).all()
                )
                limits = postings_to_read(stats.documents, frequency, per_term)
                postings = await self._best_postings(connection, group_id, limits)
        hits = tuple(TermHits(term, frequency.get(term, 0), tuple(postings.get(term, ()))) for term in terms)
        average = stats.total_length / stats.documents if stats.documents else 0.0
        return SearchResult(stats.documents, average, hits)

    async def _best_postings(
        self, connection: AsyncConnection, group_id: str, limits: Mapping[str, int]
    ) -> dict[str, list[Posting]]:
        if not limits:
            return {}
        # One statement: per term, its best postings, read backwards off the (group, term,
        # impact, message id) index, so a term thousands of messages hold costs no more than a
        # rare one.
        parts = [
            sa.select(search_postings.c.term, search_postings.c.message_id, search_postings.c.impact)
            .where(search_postings.c.group_id == group_id, search_postings.c.term == term)
            .order_by(search_postings.c.impact.desc(), search_postings.c.message_id.desc())
            .limit(limit)
            .subquery()
            for term, limit in sorted(limits.items())
        ]
        statement = sa.union_all(*(sa.select(part) for part in parts))
        found: dict[str, list[Posting]] = {}
        for row in (await connection.execute(statement)).all():
            found.setdefault(row.term, []).append(Posting(row.message_id, row.impact))
        for postings in found.values():
            postings.sort(key=lambda p: (p.impact, p.message_id), reverse=True)
        return found

    async def stale_groups(self) -> list[str]:
        """Groups whose messages are not all indexed: integrated before the index existed, or by
        a worker of an older release. One row per group is read, never the messages."""
        statement = (
            sa.select(topic_memories.c.group_id)
            .select_from(
                topic_memories.outerjoin(search_stats, search_stats.c.group_id == topic_memories.c.group_id)
            )
            .where(
                sa.or_(
                    search_stats.c.group_id.is_(None),
                    search_stats.c.indexed_version < topic_memories.c.version,
                )
            )
            .order_by(topic_memories.c.group_id)
        )
        with storage_errors(self._engine.url, "find groups with a stale search index"):
            async with self._engine.connect() as connection:
                return [row[0] for row in (await connection.execute(statement)).all()]

    async def reindex(self, group_id: str) -> int:
        validate_group_id(group_id)
        indexed = 0
        with storage_errors(self._engine.url, "rebuild the search index"):
            async with self._engine.begin() as connection:
                version = await _lock_group(connection, self._engine, group_id)
                for table in (search_postings, search_terms, search_stats):
                    await connection.execute(sa.delete(table).where(table.c.group_id == group_id))
                after = ""
                while True:
                    statement = (
                        sa.select(chat_messages)
                        .where(
                            chat_messages.c.group_id == group_id,
                            chat_messages.c.revision.is_not(None),
                            chat_messages.c.message_id > after,
                        )
                        .order_by(chat_messages.c.message_id)
                        .limit(REINDEX_BATCH)
                    )
                    rows = (await connection.execute(statement)).all()
                    if not rows:
                        break
                    messages = [message_from_row(row) for row in rows]
                    await write_documents(connection, self._engine, group_id, messages, version)
                    indexed += len(messages)
                    after = rows[-1].message_id
                if not indexed:
                    # Nothing to index: record the version all the same, so it is not stale.
                    await write_documents(connection, self._engine, group_id, [], version)
        return indexed


async def _lock_group(connection: AsyncConnection, engine: AsyncEngine, group_id: str) -> int:
    """Hold the group's topic-memory row, so that no topic commit indexes messages meanwhile;
    return its version (0 for a group never updated)."""
    statement = sa.select(topic_memories.c.version).where(topic_memories.c.group_id == group_id)
    if engine.dialect.name == "postgresql":
        statement = statement.with_for_update()
    return int((await connection.scalar(statement)) or 0)
