"""The chaos run's worker processes: started, SIGKILLed, restarted, and watched for crash loops.

Each worker slot runs ``ai-worker worker`` with JSON logs, one log file per incarnation. A
process that exits without being killed by the run is an *unplanned exit*: it is recorded and
restarted after a pause (as a process supervisor would), so a crash loop shows as many of them.
arq's own log lines (``→ JOB(`` at the start of a job, ``←``/``!``/``↻``/``⊘`` at its end) tell
which group updates and evolutions a worker had in flight when it was killed, and when each
job started again.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tests.support.processes import start_worker

# The job ids of a group's update and evolution (adapters.redis.arq_queue) and arq's markers.
JOB_LINE = re.compile(r"([→←!↻⊘]) ((?:topic-update|evolve-memory):.+?):task_")
RESTART_PAUSE_SECONDS = 1.0


@dataclass(frozen=True)
class JobMark:
    """One arq log line about a group job: ``start`` True for ``→``."""

    when: float  # unix time
    job: str  # "topic-update:GROUP" or "evolve-memory:GROUP"
    start: bool


@dataclass
class Incarnation:
    slot: int
    process: asyncio.subprocess.Process
    log: Path
    started: float
    killed: bool = False
    _offset: int = 0
    _open: dict[str, int] = field(default_factory=dict)
    marks: list[JobMark] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def read_marks(self) -> None:
        """Read the log lines written since the last call; keep the group-job marks."""
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk.rfind(b"\n") + 1
        self._offset += complete
        for raw in chunk[:complete].splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            found = JOB_LINE.search(str(line.get("event", ""))) if isinstance(line, dict) else None
            if found is None:
                continue
            when = datetime.fromisoformat(str(line["timestamp"])).timestamp()
            mark = JobMark(when, found.group(2), found.group(1) == "→")
            self.marks.append(mark)
            self._open[mark.job] = self._open.get(mark.job, 0) + (1 if mark.start else -1)

    def jobs_in_flight(self) -> list[str]:
        self.read_marks()
        return sorted(job for job, count in self._open.items() if count > 0)


@dataclass(frozen=True)
class UnplannedExit:
    slot: int
    pid: int
    when: float
    returncode: int | None
    tail: str


class WorkerPool:
    """``size`` supervised worker processes sharing one environment."""

    def __init__(self, size: int, env: dict[str, str], logs: Path) -> None:
        self.size = size
        self.env = env
        self.logs = logs
        self.current: dict[int, Incarnation] = {}
        self.history: list[Incarnation] = []
        self.unplanned: list[UnplannedExit] = []
        self._count = 0
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._closing = False

    async def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        for slot in range(self.size):
            await self._spawn(slot)

    async def _spawn(self, slot: int) -> Incarnation:
        self._count += 1
        log = self.logs / f"worker-{slot}-{self._count}.log"
        log.touch()
        process = await start_worker(self.env, log)
        incarnation = Incarnation(slot, process, log, time.time())
        self.current[slot] = incarnation
        self.history.append(incarnation)
        self._watchers[slot] = asyncio.create_task(self._watch(incarnation))
        return incarnation

    async def _watch(self, incarnation: Incarnation) -> None:
        returncode = await incarnation.process.wait()
        if incarnation.killed or self._closing:
            return
        tail = incarnation.log.read_text(errors="replace")[-1500:]
        self.unplanned.append(UnplannedExit(incarnation.slot, incarnation.pid, time.time(), returncode, tail))
        await asyncio.sleep(RESTART_PAUSE_SECONDS)
        if not self._closing and self.current.get(incarnation.slot) is incarnation:
            await self._spawn(incarnation.slot)

    def busy_slots(self, tasks_in_flight: dict[int, list[str]]) -> list[int]:
        """Slots whose worker has a group job or (per ``tasks_in_flight``, by pid) a task running."""
        return [
            slot
            for slot, incarnation in self.current.items()
            if incarnation.process.returncode is None
            and (incarnation.jobs_in_flight() or tasks_in_flight.get(incarnation.pid))
        ]

    async def kill(self, slot: int) -> Incarnation:
        """SIGKILL the slot's worker and start its successor at once; return the dead one."""
        victim = self.current[slot]
        victim.read_marks()
        victim.killed = True
        if victim.process.returncode is None:
            victim.process.send_signal(signal.SIGKILL)
        await victim.process.wait()
        await self._spawn(slot)
        return victim

    def random_slot(self, rng: random.Random) -> int:
        return rng.randrange(self.size)

    def all_marks(self) -> list[JobMark]:
        marks: list[JobMark] = []
        for incarnation in self.history:
            incarnation.read_marks()
            marks.extend(incarnation.marks)
        return sorted(marks, key=lambda mark: mark.when)

    def alive(self) -> int:
        return sum(1 for i in self.current.values() if i.process.returncode is None)

    async def close(self) -> None:
        self._closing = True
        for incarnation in self.current.values():
            if incarnation.process.returncode is None:
                incarnation.process.terminate()
        for incarnation in self.current.values():
            try:
                await asyncio.wait_for(incarnation.process.wait(), 20)
            except TimeoutError:
                incarnation.process.kill()
                await incarnation.process.wait()
        for watcher in self._watchers.values():
            watcher.cancel()
        await asyncio.gather(*self._watchers.values(), return_exceptions=True)
