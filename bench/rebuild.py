"""``memory.rebuild_group`` is linear: ``python bench/rebuild.py [--quick] [--json]``.

One group on PostgreSQL holds N integrated messages (100,000; ``--quick``: 2,000) of real IRC
chat text (``../shared/data/irc-dev``), integrated by revisions of 200. The worker's rebuilder
(the container's, production settings: the offline model, batches of ``L2_QUEUE_MAX_LEN``)
replays them step by step, each checkpoint going through JSON as the long-task executor stores
it. Flat means: a step at the end of the history costs what a step at its start does, and the
checkpoint does not grow with the steps (the seed's design read the whole history and grew the
checkpoint on every step: O(history²)).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.store import SqlMemoryStore
from bench import report
from bench.report import Figure
from bench.scan import chat_lines
from entrypoints.container import Container, build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from memory_domain.topic_rebuild import TopicRebuilder
from tests.support.databases import fresh_postgres_database
from tests.support.redis_space import empty_redis, redis_test_url

GROUP = "big"
PER_REVISION = 200


async def fill(engine: AsyncEngine, total: int, now: datetime) -> None:
    """``total`` messages of one group, integrated by revisions of 200 (as live updates leave them)."""
    revisions = (total + PER_REVISION - 1) // PER_REVISION
    async with engine.begin() as connection:
        await connection.execute(
            sa.text("INSERT INTO topic_memories (group_id, version, updated_at) VALUES (:g, :v, :now)"),
            {"g": GROUP, "v": revisions, "now": now},
        )
        await connection.execute(
            sa.text(
                "INSERT INTO topic_revisions (group_id, revision, created_at, message_ids, model,"
                " prompt_tokens, completion_tokens, duration_ms, diff)"
                " SELECT :g, r, :now, '[]'::jsonb, 'bench', 0, 0, 0, '{}'::jsonb"
                " FROM generate_series(1, :revisions) AS r"
            ),
            {"g": GROUP, "now": now, "revisions": revisions},
        )
        statement = sa.text(
            "INSERT INTO chat_messages (group_id, message_id, sender_id, sender_name, role, content,"
            " sent_at, recorded_at, revision)"
            " SELECT :g, 'm' || lpad(i::text, 7, '0'), 'u' || (i % 40), 'User ' || (i % 40), 'user',"
            " (:texts)[1 + i % cardinality(CAST(:texts AS text[]))],"
            " CAST(:now AS timestamptz) - make_interval(secs => (:total - i) * 30),"
            " CAST(:now AS timestamptz), 1 + i / :per_revision"
            " FROM generate_series(0, :total - 1) AS i"
        ).bindparams(sa.bindparam("texts", type_=postgresql.ARRAY(sa.Text())))
        await connection.execute(
            statement,
            {"g": GROUP, "texts": chat_lines(), "now": now, "total": total, "per_revision": PER_REVISION},
        )
        await connection.execute(sa.text("ANALYZE"))


async def rebuild(rebuilder: TopicRebuilder) -> tuple[list[dict[str, Any] | None], list[int], float]:
    """The checkpoint each replay step started from, the bytes of each it left, the swap's seconds."""
    state: dict[str, Any] | None = None
    starts: list[dict[str, Any] | None] = []
    sizes: list[int] = []
    while True:
        started = time.perf_counter()
        outcome = await rebuilder.step(GROUP, state, key="bench-rebuild")
        stored = json.dumps(outcome.state)  # what the executor writes as the checkpoint
        elapsed = time.perf_counter() - started
        if outcome.done:
            return starts, sizes, elapsed
        starts.append(state)
        sizes.append(len(stored.encode()))
        state = json.loads(stored)


async def step_times(
    rebuilder: TopicRebuilder, starts: list[dict[str, Any] | None], window: int
) -> tuple[list[float], list[float]]:
    """Seconds of the first and the last ``window`` steps, run again from their checkpoints in
    turn (first, last, first, ...): the machine's load drifting during the long run weighs on
    both alike. A step run again has the effect of one run (it is what a resumed task does);
    these run under a rebuild key of their own, discarded afterwards."""
    first: list[float] = []
    last: list[float] = []
    for _ in range(2):
        for early, late in zip(starts[:window], starts[-window:], strict=True):
            for state, into in ((early, first), (late, last)):
                started = time.perf_counter()
                await rebuilder.step(GROUP, state, key="bench-again")
                into.append(time.perf_counter() - started)
    return first, last


async def group_ids_against_distinct(engine: AsyncEngine, store: SqlMemoryStore, total: int) -> Figure:
    """``group_ids()`` where one group has a long history: it reads none of it."""
    distinct = sa.text("SELECT DISTINCT group_id FROM chat_messages ORDER BY group_id")
    loose, scanned = [], []
    for _ in range(5):
        started = time.perf_counter()
        assert await store.group_ids() == [GROUP]
        loose.append(time.perf_counter() - started)
        started = time.perf_counter()
        async with engine.connect() as connection:
            # Rows made into the list group_ids() returns, as it does.
            listed = [row.group_id for row in (await connection.execute(distinct)).all()]
        scanned.append(time.perf_counter() - started)
        assert listed == [GROUP]
    return Figure(
        f"group_ids(), 1 group of {total:,} messages",
        statistics.median(loose) * 1000,
        "ms",
        baseline=statistics.median(scanned) * 1000,
        note="topic_memories rows and the pending partial index; baseline: SELECT DISTINCT over every"
        " message",
    )


async def measure(total: int) -> list[Figure]:
    now = datetime.now(UTC)
    async with fresh_postgres_database() as url, empty_redis():
        container: Container = build_container(Settings(DATABASE_URL=url, REDIS_URL=redis_test_url()))
        await open_container(container)
        try:
            engine: AsyncEngine = await resolve(container.engine)
            await fill(engine, total, now)
            groups = await group_ids_against_distinct(engine, await resolve(container.store), total)
            rebuilder: TopicRebuilder = await resolve(container.rebuilder)
            started = time.perf_counter()
            starts, sizes, swap = await rebuild(rebuilder)
            whole = time.perf_counter() - started
            window = max(3, len(starts) // 10)
            first_times, last_times = await step_times(rebuilder, starts, window)
        finally:
            await close_container(container)
    first, last = statistics.median(first_times), statistics.median(last_times)
    first_bytes, last_bytes = statistics.median(sizes[:window]), statistics.median(sizes[-window:])
    size = f"{total:,} messages, {len(starts)} steps"
    return [
        Figure(
            f"rebuild step, last {window} vs first {window} steps ({size})",
            last * 1000,
            "ms",
            baseline=first * 1000,
            target="<= 1.25 x first",
            met=last <= 1.25 * first,
            note="median per replay step, first and last steps run again in turn; each reads its batch"
            " by a keyset read on an index and counts nothing",
        ),
        Figure(
            f"rebuild checkpoint, last {window} vs first {window} steps",
            last_bytes,
            "bytes",
            baseline=first_bytes,
            target="<= 1.25 x first",
            met=last_bytes <= 1.25 * first_bytes,
            note=f"largest checkpoint {max(sizes):,} bytes",
        ),
        Figure(
            f"whole rebuild ({size})",
            total / whole,
            "messages/s",
            note=f"{whole:.1f} s; the swap {swap * 1000:.0f} ms",
        ),
        groups,
    ]


async def figures(quick: bool) -> list[Figure]:
    return await measure(2_000 if quick else 100_000)


if __name__ == "__main__":
    sys.exit(report.main(figures, "memory.rebuild_group against the length of the history"))
