"""The baseline of ``bench/dispatch.py``: procrastinate (LISTEN/NOTIFY) on the same PostgreSQL.

Imported only when procrastinate is installed (``pip install -e '.[bench]'``); its worker
processes load ``bench.procrastinate_baseline:app``, with the database's libpq conninfo in
``BENCH_PROCRASTINATE_DSN``.
"""

from __future__ import annotations

import os

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("BENCH_PROCRASTINATE_DSN", ""))
)


@app.task(name="noop", queue="bench")
async def noop(n: int = 0) -> None:
    """One step that does nothing: what is measured is the queue, not the work."""


@app.task(name="chain", queue="bench")
async def chain(left: int) -> None:
    """A task of many steps, as procrastinate would run one: each step defers the next."""
    if left > 1:
        await chain.defer_async(left=left - 1)
