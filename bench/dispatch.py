"""Long-task dispatch: ``python bench/dispatch.py [--quick] [--json]``.

Real ``ai-worker worker`` processes on the local PostgreSQL and Redis (``TEST_DATABASE_URL``,
``TEST_REDIS_URL``, whose Redis database is emptied), running the no-op handler below:

- submit → first step: tasks submitted one at a time through ``TaskService.submit`` at random
  moments on an idle worker, from just before the submit to the task's ``started_at`` (stamped by
  the claim right before the first step); target p50 < 20 ms, p99 < 200 ms;
- one-step no-op tasks per second with one and with two worker processes: N tasks stored and
  their arq jobs queued in one go on idle workers, until the last one is DONE; and the worker
  CPU per task (from /proc);
- the time between two checkpointed steps of one task of many steps (target < 10 ms).

The baseline, in the same run on the same PostgreSQL: procrastinate (LISTEN/NOTIFY), its worker
processes at the same concurrency as the long-task slots of ours. It is skipped, with a note,
when procrastinate is not installed (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path[:0] = [
        str(Path(__file__).resolve().parents[1]),
        str(Path(__file__).resolve().parents[1] / "src"),
    ]

from pydantic import BaseModel, Field

from bench import report
from bench.dispatch_runs import OurQueue, ProcrastinateQueue, Queue, percentile
from bench.report import Figure
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep

registry = TaskRegistry()


class StepsPayload(BaseModel):
    steps: int = Field(default=1, ge=1, le=100_000)


@registry.handler("bench.steps", payload=StepsPayload)
async def steps(step: TaskStep[StepsPayload]) -> Checkpoint | Completed:
    """``steps`` steps that do nothing: what is measured is the dispatch, not the work."""
    done = step.step + 1
    return Completed(done) if done >= step.payload.steps else Checkpoint(done)


async def latencies(queue: Queue, samples: int, rng: random.Random) -> list[float]:
    found = []
    for _ in range(samples):
        await asyncio.sleep(rng.uniform(0.02, 0.15))  # land anywhere in a poll cycle
        found.append(await queue.submit_to_start())
    return sorted(found)


async def measure(queue: Queue, quick: bool, rng: random.Random) -> dict[str, float]:
    tasks = 150 if quick else 3_000
    measured: dict[str, float] = {}
    await queue.start_workers(1)
    lat = await latencies(queue, 15 if quick else 200, rng)
    measured["p50"], measured["p99"] = percentile(lat, 0.5), percentile(lat, 0.99)
    measured["step_gap"] = await queue.step_gap(20 if quick else 500)
    measured["rate1"], measured["cpu1"] = await queue.throughput(tasks)
    await queue.start_workers(2)
    measured["rate2"], measured["cpu2"] = await queue.throughput(tasks)
    return measured


async def figures(quick: bool) -> list[Figure]:
    rng = random.Random(8)
    async with OurQueue() as ours:
        our = await measure(ours, quick, rng)
    base: dict[str, float] = {}
    note = ""
    if importlib.util.find_spec("procrastinate") is None:
        note = "baseline skipped: procrastinate is not installed (pip install -e '.[bench]')"
    else:
        async with ProcrastinateQueue(concurrency=ours.slots) as theirs:
            base = await measure(theirs, quick, rng)
    ms = 1000.0
    return [
        Figure(
            "long task submit → first step, idle worker, p50",
            our["p50"] * ms,
            "ms",
            base["p50"] * ms if base else None,
            "< 20 ms",
            our["p50"] < 0.020,
            note,
        ),
        Figure(
            "long task submit → first step, idle worker, p99",
            our["p99"] * ms,
            "ms",
            base["p99"] * ms if base else None,
            "< 200 ms",
            our["p99"] < 0.200,
        ),
        *(
            Figure(
                f"one-step no-op long tasks/s, {workers} worker process{'es' if workers > 1 else ''}",
                our[f"rate{workers}"],
                "tasks/s",
                base.get(f"rate{workers}"),
                ">= 1.0 x procrastinate",
                our[f"rate{workers}"] >= base[f"rate{workers}"] if base else None,
                f"worker CPU per task {our[f'cpu{workers}'] * ms:.2f} ms"
                + (f" (procrastinate {base[f'cpu{workers}'] * ms:.2f} ms)" if base else ""),
            )
            for workers in (1, 2)
        ),
        Figure(
            "time between two checkpointed steps of one task",
            our["step_gap"] * ms,
            "ms",
            base["step_gap"] * ms if base else None,
            "< 10 ms",
            our["step_gap"] < 0.010,
            "baseline: between two procrastinate jobs, each deferring the next" if base else "",
        ),
    ]


if __name__ == "__main__":
    sys.exit(report.main(figures, "long-task dispatch: latency, throughput, step to step"))
