"""An in-memory world for long tasks: the service and executors on the in-memory adapters."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from adapters.in_memory.long_tasks import InMemoryTaskDispatcher, InMemoryTaskRepository
from adapters.system import ManualClock, SequentialIds
from long_tasks_domain.executor import ExecutorOptions, TaskExecutor
from long_tasks_domain.model import LongTask, TaskStatus
from long_tasks_domain.registry import Checkpoint, Completed, TaskRegistry, TaskStep
from long_tasks_domain.retry_policy import Backoff
from long_tasks_domain.service import TaskService
from tests.support import long_task_handlers

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Empty(BaseModel):
    pass


StepFn = Callable[[TaskStep[Empty]], Awaitable[Checkpoint | Completed]]


def options(**overrides: object) -> ExecutorOptions:
    values: dict[str, object] = {
        "lease_seconds": 30.0,
        "step_timeout_seconds": 5.0,
        "heartbeat_seconds": 0.02,
        "early_arrival_seconds": 0.0,
        "slot_patience_seconds": 0.01,
        "backoff": Backoff(5.0, 60.0, random.Random(7)),
    }
    values.update(overrides)
    return ExecutorOptions(**values)  # type: ignore[arg-type]


@dataclass
class TaskWorld:
    clock: ManualClock = field(default_factory=lambda: ManualClock(START))
    repository: InMemoryTaskRepository = field(default_factory=InMemoryTaskRepository)
    dispatcher: InMemoryTaskDispatcher = field(default_factory=InMemoryTaskDispatcher)
    registry: TaskRegistry = field(default_factory=TaskRegistry)

    def __post_init__(self) -> None:
        self.registry.include(long_task_handlers.registry)
        self.ids = SequentialIds("task")
        self.service = TaskService(self.repository, self.registry, self.dispatcher, self.clock, self.ids)

    def executor(self, **overrides: object) -> TaskExecutor:
        return TaskExecutor(
            self.repository,
            self.registry,
            self.dispatcher,
            self.clock,
            SequentialIds("lease"),
            options(**overrides),
        )

    def handler(self, task_type: str, function: StepFn) -> None:
        self.registry.register(task_type, Empty, function)

    async def task(self, task_id: str) -> LongTask:
        return await self.service.get(task_id)

    async def status(self, task_id: str) -> TaskStatus:
        return (await self.task(task_id)).status

    def later(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Wait (real time) until ``check`` holds: for steps running in background tasks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)
