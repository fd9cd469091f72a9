"""The search index on PostgreSQL or SQLite: written with the topic commit, read by the context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
    stats = (
        await connection.execute(
            sa.select(search_stats.c.documents, search_stats.c.total_length).where(
                search_stats.c.group_id == group_id
            )
        )
    ).first()
    documents, total_length = (stats.documents, stats.total_length) if stats is not None else (0, 0)
    indexed = index_documents(messages, documents, total_length)
    if indexed:
        await _insert_documents(connection, engine, group_id, indexed)
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


async def _insert_documents(
    connection: AsyncConnection, engine: AsyncEngine, group_id: str, indexed: Sequence[IndexedDocument]
) -> None:
    posting_rows: list[dict[str, Any]] = []
    frequencies: dict[str, int] = {}
    for document in indexed:
        for term, weight in document.impacts.items():
            posting_rows.append(
                {"group_id": group_id, "term": term, "message_id": document.message_id, "impact": weight}
            )
            frequencies[term] = frequencies.get(term, 0) + 1
    if engine.dialect.name == "postgresql":
        # COPY inside the commit's transaction: a 200-message update writes thousands of
        # postings, and COPY takes them in a fraction of an INSERT's time.
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            "search_postings",
            records=[(r["group_id"], r["term"], r["message_id"], r["impact"]) for r in posting_rows],
            columns=["group_id", "term", "message_id", "impact"],
        )
    else:
        # Executemany with one compiled statement (SQLAlchemy batches the rows itself).
        await connection.execute(sa.insert(search_postings), posting_rows)
    term_rows: list[dict[str, Any]] = [
        {"group_id": group_id, "term": t, "frequency": n} for t, n in sorted(frequencies.items())
    ]
    insert = dialect_insert(engine, search_terms)
    await connection.execute(
        insert.on_conflict_do_update(
            index_elements=["group_id", "term"],
            set_={"frequency": search_terms.c.frequency + insert.excluded.frequency},
        ),
        term_rows,
    )


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
