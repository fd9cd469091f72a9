"""The chaos run: ``python bench/chaos.py [--quick] [--json]`` (full size by hand; it is a proof, not a speed figure).

Three ``ai-worker worker`` processes on a PostgreSQL and a Redis of the run's own (started
here on free ports: the machine's shared servers are never touched) work while messages are
recorded at a steady rate over many groups, multi-step long tasks are submitted and every
group's evolution is enqueued; meanwhile a driver SIGKILLs a random busy worker (restarting it
at once) and, once each, flushes the product's Redis database, restarts Redis, restarts
PostgreSQL and stops it for 10 s. Afterwards it checks that no message was lost or integrated
twice, that every task is DONE with each checkpoint committed once, that no memory version went
down, and that no worker was left crash-looping; it reports how long each killed worker's
work took to run again and how long the backlog took to drain after the last fault.
"""

from __future__ import annotations

import asyncio
import functools
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.engine import create_engine
from adapters.postgres.migrate import upgrade_to_head
from bench import report
from bench.chaos_checks import (
    Kill,
    audit_messages,
    audit_tasks,
    drained,
    finished_times,
    lagging_evolutions,
    read_steps,
    recoveries,
)
from bench.chaos_figures import Outcome, figures_of
from bench.chaos_load import (
    LoadLog,
    Size,
    VersionWatch,
    evolve_steadily,
    group_name,
    persist,
    plan_messages,
    record_steadily,
    submit_steadily,
)
from bench.chaos_services import PrivatePostgres, PrivateRedis
from bench.chaos_workers import WorkerPool
from bench.report import Figure
from entrypoints.container import build_container, close_container, open_container, resolve
from entrypoints.settings import Settings
from tests.support.processes import service_env

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = "tests.support.chaos_handlers"
FULL = Size(10_000, 200, 300, 20, 240.0, (3, 8), (0.3, 1.5), shuffle=True)
QUICK = Size(600, 20, 20, 3, 30.0, (2, 4), (0.3, 0.8), shuffle=False)
# Shorter than the defaults (20 s, 30 s, 5 min, 60 min, 5 min) so that a run takes minutes;
# the recovery target (< 60 s) holds with the defaults too: a lease plus the 15 s recovery tick.
RUN_SETTINGS = {
    "L2_LEASE_SECONDS": "10",
    "LONG_TASK_LEASE_SECONDS": "15",
    "L2_FAILURE_BACKOFF_MINUTES": "0.25",
    "L2_FORCE_UPDATE_AFTER_MINUTES": "1",
    "L2_SCAN_INTERVAL_MINUTES": "1",
}
QUICK_SETTINGS = {**RUN_SETTINGS, "L2_LEASE_SECONDS": "5", "LONG_TASK_LEASE_SECONDS": "5"}
SERVICE_FAULTS = ("flush redis", "restart redis", "restart postgres", "stop postgres 10 s")


class Faults:
    """The fault driver: kills and service faults at evenly spread moments of the load."""

    def __init__(
        self, size: Size, pool: WorkerPool, pg: PrivatePostgres, redis: PrivateRedis, steps: Path
    ) -> None:
        self.size, self.pool, self.pg, self.redis, self.steps = size, pool, pg, redis, steps
        self.kills: list[Kill] = []
        self.done: list[tuple[str, float, float]] = []  # (fault, started, ended)
        self.rng = random.Random(20261205)

    def tasks_by_pid(self) -> dict[int, list[str]]:
        """Tasks whose latest step started recently, by the pid that runs it."""
        latest: dict[str, tuple[int, float]] = {}
        for line in read_steps(self.steps):
            latest[line.task_id] = (line.pid, line.when)
        horizon = time.time() - self.size.step_seconds[1] - 0.5
        running: dict[int, list[str]] = {}
        for task_id, (pid, when) in latest.items():
            if when >= horizon:
                running.setdefault(pid, []).append(task_id)
        return running

    def updating_slots(self) -> list[int]:
        return [
            slot
            for slot, worker in self.pool.current.items()
            if worker.process.returncode is None
            and any(job.startswith("topic-update:") for job in worker.jobs_in_flight())
        ]

    async def kill_one(self) -> None:
        """Kill a worker with work in flight: every other kill waits (up to 3 s) for one in the
        middle of a topic update (updates take milliseconds), the others for any busy worker."""
        slots: list[int] = []
        if len(self.kills) % 2 == 0:
            deadline = time.monotonic() + 3
            while not slots and time.monotonic() < deadline:
                slots = self.updating_slots()
                await asyncio.sleep(0 if slots else 0.02)
        for _ in range(30):
            if slots:
                break
            slots = self.pool.busy_slots(self.tasks_by_pid())
            await asyncio.sleep(0 if slots else 0.1)
        slot = self.rng.choice(slots) if slots else self.pool.random_slot(self.rng)
        when = time.time()
        victim = await self.pool.kill(slot)
        # Read from the dead worker's whole log: the jobs it started and never finished.
        self.kills.append(Kill(when, victim.pid, tuple(victim.jobs_in_flight())))

    async def service_fault(self, fault: str) -> None:
        if fault == "flush redis":
            await self.redis.flushdb(0)
        elif fault == "restart redis":
            await self.redis.restart()
        elif fault == "restart postgres":
            await asyncio.to_thread(self.pg.restart)
        else:
            await asyncio.to_thread(self.pg.stop, "fast")
            await asyncio.sleep(10)
            await asyncio.to_thread(self.pg.start)

    async def run(self) -> None:
        events = ["kill"] * self.size.kills + list(SERVICE_FAULTS)
        if self.size.shuffle:
            self.rng.shuffle(events)
        else:
            # Service faults first: the quick run then drains soon after its last fault, a kill.
            events.reverse()
        started = time.monotonic()
        for number, event in enumerate(events):
            at = self.size.load_seconds * (0.05 + 0.85 * number / max(1, len(events) - 1))
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            begun = time.time()
            await (self.kill_one() if event == "kill" else self.service_fault(event))
            self.done.append((event, begun, time.time()))
            print(f"chaos: {time.strftime('%H:%M:%S')} {event}", file=sys.stderr, flush=True)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.5) -> float | None:
    """Poll the async ``check`` (a database read that may fail) until true; the unix time, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await check():
                return time.time()
        except Exception:
            pass
        await asyncio.sleep(every)
    return None


async def describe_stuck(engine: AsyncEngine, redis: PrivateRedis, path: Path) -> None:
    """For a backlog that did not drain: what PostgreSQL and the Redis index say of each stuck group."""
    query = sa.text(
        "SELECT group_id, count(*), min(recorded_at), max(recorded_at) FROM chat_messages "
        "WHERE revision IS NULL AND quarantined_at IS NULL GROUP BY group_id ORDER BY group_id"
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    client = Redis.from_url(redis.url(0), decode_responses=True)
    lines = []
    try:
        for group_id, count, oldest, newest in rows:
            redis_count = await client.hget("aiw:l2:pending", group_id)
            due = await client.zscore("aiw:l2:due", group_id)
            streak = await client.hget("aiw:l2:failures", group_id)
            job = await client.exists(
                f"arq:job:topic-update:{group_id}", f"arq:in-progress:topic-update:{group_id}"
            )
            lines.append(
                f"{group_id}: {count} pending in PostgreSQL (recorded {oldest:%H:%M:%S.%f}..{newest:%H:%M:%S.%f}); "
                f"Redis count {redis_count}, due {due}, failure streak {streak}, arq job keys {job}"
            )
        lines.append(f"built mark: {await client.exists('aiw:l2:built')}")
    finally:
        await client.aclose()
    await asyncio.to_thread(path.write_text, "\n".join(lines) + "\n")
    print("chaos: the backlog did not drain:\n" + "\n".join(lines[:20]), file=sys.stderr)


async def chaos(size: Size, settings: dict[str, str], root: Path) -> Outcome:
    pg, redis = PrivatePostgres(root / "pg"), PrivateRedis(root / "redis")
    pg.create()
    pg.start()
    await redis.start()
    steps = root / "steps.log"
    await upgrade_to_head(pg.url)
    env = service_env(
        DATABASE_URL=pg.url,
        REDIS_URL=redis.url(0),
        LONG_TASK_IMPORTS=HANDLERS,
        PYTHONPATH=str(ROOT),
        LOG_FORMAT="json",
        **settings,
    )
    pool = WorkerPool(3, env, root / "logs")
    # The run's settings for the driver too: the recorder computes when a group falls due.
    driver = {"DATABASE_URL": pg.url, "REDIS_URL": redis.url(0), "LONG_TASK_IMPORTS": HANDLERS, **settings}
    container = build_container(Settings(**driver))  # type: ignore[arg-type]
    engine = create_engine(pg.url)
    try:
        await pool.start()
        await open_container(container)
        recorder, tasks, consensus = (
            await resolve(container.recorder),
            await resolve(container.task_service),
            await resolve(container.consensus),
        )
        rng, log, watch, stop = random.Random(7), LoadLog(), VersionWatch(), asyncio.Event()
        planned = plan_messages(size, rng)
        faults = Faults(size, pool, pg, redis, steps)
        watcher = asyncio.create_task(watch.run(engine, stop))
        load_started = time.time()
        await asyncio.gather(
            record_steadily(recorder, planned, size.load_seconds, log),
            submit_steadily(tasks, size, str(steps), rng, log),
            evolve_steadily(consensus, size, log),
            faults.run(),
        )
        last_fault = max(ended for _, _, ended in faults.done)
        budget = 120 if size is QUICK else 900

        async def backlog_done() -> bool:
            return await drained(engine, log.tasks) == (0, 0)

        drained_at = await wait_for(backlog_done, budget)
        if drained_at is None:
            await describe_stuck(engine, redis, root / "stuck.txt")
        for g in range(size.groups):  # the last evolution of every group, after its last update
            await persist("enqueueing an evolution", functools.partial(consensus.enqueue, group_name(g)))

        async def evolved() -> bool:
            return not await lagging_evolutions(engine)

        evolved_at = await wait_for(evolved, budget)
        stop.set()
        await watcher
        await watch.sample(engine)
        step_lines = read_steps(steps)
        return Outcome(
            size=size,
            settings=settings,
            load=log,
            load_seconds=max(log.last_record_at, last_fault) - load_started,
            messages=await audit_messages(engine, [(m.group_id, m.message_id) for m in planned]),
            tasks=await audit_tasks(engine, log.tasks, step_lines),
            versions=watch,
            recovery=recoveries(
                faults.kills, pool.all_marks(), step_lines, await finished_times(engine, log.tasks)
            ),
            faults=faults.done,
            kills=len(faults.kills),
            unplanned=pool.unplanned,
            alive=pool.alive(),
            last_fault=last_fault,
            drained_at=drained_at,
            evolved_at=evolved_at,
            lagging=await lagging_evolutions(engine),
        )
    finally:
        await pool.close()
        await close_container(container)
        await engine.dispose()
        redis.stop()
        await asyncio.to_thread(pg.destroy)


def run_directory() -> Path:
    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    root.chmod(0o755)  # the postgres OS user runs the server below it
    return root


async def figures(quick: bool) -> list[Figure]:
    root = run_directory()
    outcome = await chaos(QUICK if quick else FULL, QUICK_SETTINGS if quick else RUN_SETTINGS, root)
    found = figures_of(outcome)
    if all(figure.met is not False for figure in found):
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"chaos: a check failed; worker logs and the steps log are kept in {root}", file=sys.stderr)
    return found


if __name__ == "__main__":
    sys.exit(report.main(figures, "chaos run: kills and service faults under load"))
