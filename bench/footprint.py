"""The worker's footprint: ``python bench/footprint.py [--quick] [--json]``.

One ``ai-worker worker`` process on the local PostgreSQL and Redis (``TEST_DATABASE_URL``,
``TEST_REDIS_URL``), against the baseline of a bare arq worker importing the same libraries
(``bench/bare_arq_worker.py``), in the same run:

- resident memory idle (after start, once its start-up jobs ran) and its peak under load (one
  no-op long task per job, N of them queued at once; for the bare worker, N no-op arq jobs);
- CPU idle, as a share of one core: what waiting for work costs (the poll of the queue and the
  wake-up subscription, the crons).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

from adapters.redis.connection import open_real_pool
from bench import report
from bench.bare_arq_worker import QUEUE
from bench.dispatch_runs import ROOT, OurQueue, cpu_seconds, read_log, spawn
from bench.report import Figure
from tests.support.processes import service_env, stop
from tests.support.redis_space import empty_redis, redis_test_url

MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for process {pid}")


async def idle(pid: int, seconds: float) -> tuple[int, float]:
    """RSS after ``seconds`` idle, and the CPU share of one core meanwhile."""
    cpu = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return rss(pid), (cpu_seconds(pid) - cpu) / seconds


async def peak_while(pid: int, load: Callable[[], Awaitable[object]]) -> int:
    """The highest RSS sampled (every 20 ms) while ``load`` runs."""
    peak = rss(pid)
    task = asyncio.ensure_future(load())
    while not task.done():
        peak = max(peak, rss(pid))
        await asyncio.wait({task}, timeout=0.02)
    task.result()
    return peak


async def ours(jobs: int, settle: float) -> tuple[int, float, int]:
    async with OurQueue() as queue:
        await queue.start_workers(1)
        pid = queue.workers[0].pid
        idle_rss, idle_cpu = await idle(pid, settle)
        peak = await peak_while(pid, lambda: queue.throughput(jobs))
    return idle_rss, idle_cpu, peak


async def bare(jobs: int, settle: float) -> tuple[int, float, int]:
    async with empty_redis():
        env = service_env(BENCH_REDIS_URL=redis_test_url(), PYTHONPATH=ROOT)
        log = Path(f"/tmp/bench-bare-arq-{time.time_ns()}.log")
        worker = await spawn([sys.executable, "-m", "arq", "bench.bare_arq_worker.WorkerSettings"], env, log)
        pool = await open_real_pool(redis_test_url())
        try:
            deadline = time.monotonic() + 60
            while b"Starting worker" not in await asyncio.to_thread(read_log, log):
                if time.monotonic() > deadline or worker.returncode is not None:
                    raise SystemExit(f"the bare arq worker did not start; see {log}")
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            idle_rss, idle_cpu = await idle(worker.pid, settle)

            async def load() -> None:
                for n in range(jobs):
                    await pool.enqueue_job("noop", n, _queue_name=QUEUE)
                while await pool.zcard(QUEUE):  # noqa: ASYNC110 - the queue lives in Redis
                    await asyncio.sleep(0.02)

            peak = await peak_while(worker.pid, load)
        finally:
            await pool.aclose()
            await stop(worker)
    return idle_rss, idle_cpu, peak


async def figures(quick: bool) -> list[Figure]:
    jobs, settle = (200, 2.0) if quick else (3_000, 20.0)
    our_idle, our_cpu, our_peak = await ours(jobs, settle)
    bare_idle, bare_cpu, bare_peak = await bare(jobs, settle)
    return [
        Figure(
            "worker RSS, idle",
            our_idle / MB,
            "MB",
            bare_idle / MB,
            note="baseline: a bare arq worker importing the same libraries",
        ),
        Figure(
            f"worker RSS, peak under load ({jobs:,} one-step long tasks)", our_peak / MB, "MB", bare_peak / MB
        ),
        Figure(
            "worker CPU, idle",
            our_cpu * 100,
            "% of a core",
            bare_cpu * 100,
            note=f"measured over {settle:g} s; the bare worker polls its queue every 0.5 s as ours does",
        ),
    ]


if __name__ == "__main__":
    sys.exit(report.main(figures, "worker footprint: memory and idle CPU against a bare arq worker"))
