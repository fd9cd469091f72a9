"""What other programs call: submit, inspect, list, cancel and retry long tasks."""

from __future__ import annotations

import logging
from datetime import datetime

from long_tasks_domain.errors import DedupeKeyConflict, TaskNotFound
from long_tasks_domain.model import (
    CheckpointRecord,
    LongTask,
    TaskPage,
    TaskQuery,
    TaskStatus,
    ensure_json,
    validate_dedupe_key,
    validate_task_id,
    validate_task_type,
)
from long_tasks_domain.ports import Clock, IdGenerator, TaskDispatcher, TaskRepository
from long_tasks_domain.registry import TaskHandler, TaskRegistry

logger = logging.getLogger(__name__)

MAX_RETRIES_LIMIT = 100
MAX_PAGE = 1000


class TaskService:
    """Submits tasks (validated against the registry, dispatched at once) and manages them.

    Dispatch is best effort: the task is stored first, and the worker's minute poll runs any
    task whose dispatch was lost.
    """

    def __init__(
        self,
        repository: TaskRepository,
        registry: TaskRegistry,
        dispatcher: TaskDispatcher,
        clock: Clock,
        ids: IdGenerator,
        default_max_retries: int = 3,
    ) -> None:
        self._repository = repository
        self._registry = registry
        self._dispatcher = dispatcher
        self._clock = clock
        self._ids = ids
        self._default_max_retries = default_max_retries

    def types(self) -> list[TaskHandler]:
        """The registered task types, by name."""
        return list(self._registry)

    async def submit(
        self,
        task_type: str,
        payload: object = None,
        *,
        run_at: datetime | None = None,
        max_retries: int | None = None,
        dedupe_key: str | None = None,
    ) -> LongTask:
        """Store a new task and hand it to a worker; return it (see :meth:`submit_or_get`)."""
        task, _ = await self.submit_or_get(
            task_type, payload, run_at=run_at, max_retries=max_retries, dedupe_key=dedupe_key
        )
        return task

    async def submit_or_get(
        self,
        task_type: str,
        payload: object = None,
        *,
        run_at: datetime | None = None,
        max_retries: int | None = None,
        dedupe_key: str | None = None,
    ) -> tuple[LongTask, bool]:
        """Store a new task and hand it to a worker; return it and True.

        The payload is validated by the handler's model and stored as the model dumps it
        (defaults filled in). A ``dedupe_key`` is unique per task type, for as long as its task
        exists: when a task of this type holds it already, nothing is submitted and that task
        is returned with False, whatever its status (DONE, FAILED and CANCELLED included).
        Raises :class:`DedupeKeyConflict` when that task's payload differs,
        :class:`UnknownTaskType`, :class:`InvalidPayload`, or ValueError for bad options.
        """
        handler = self._registry.get(task_type)
        model = handler.parse({} if payload is None else payload)
        stored_payload = ensure_json(model.model_dump(mode="json"), "the payload")
        retries = self._default_max_retries if max_retries is None else max_retries
        if not 0 <= retries <= MAX_RETRIES_LIMIT:
            raise ValueError(f"max_retries must be between 0 and {MAX_RETRIES_LIMIT}, not {retries}")
        if dedupe_key is not None:
            validate_dedupe_key(dedupe_key)
        if run_at is not None and run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        now = self._clock.now()
        task = LongTask(
            id=self._ids.new_id(),
            task_type=task_type,
            status=TaskStatus.PENDING,
            payload=stored_payload,
            created_at=now,
            updated_at=now,
            run_at=max(run_at, now) if run_at is not None else now,
            max_retries=retries,
            dedupe_key=dedupe_key,
        )
        stored, created = await self._repository.add(task)
        if not created:
            if stored.payload != stored_payload:
                # Not the payload itself: it may hold what must not reach logs and terminals.
                raise DedupeKeyConflict(
                    f"dedupe key {dedupe_key!r} is taken by task {stored.id} of type {task_type!r} "
                    "with a different payload; use another key for another task"
                )
            logger.info("dedupe key already used: task %s was submitted before", stored.id)
            return stored, False
        try:
            await self._dispatcher.dispatch(stored.id, stored.run_at if stored.run_at > now else None)
        except Exception as error:
            logger.warning("task %s: stored but not dispatched (%s); the poll will run it", stored.id, error)
        return stored, True

    async def get(self, task_id: str) -> LongTask:
        validate_task_id(task_id)
        task = await self._repository.get(task_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id!r}")
        return task

    async def checkpoints(self, task_id: str) -> list[CheckpointRecord]:
        """The task's committed checkpoints, oldest first."""
        await self.get(task_id)
        return await self._repository.checkpoints(task_id)

    async def list(
        self,
        *,
        status: TaskStatus | None = None,
        task_type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> TaskPage:
        """Tasks newest first; pass the page's ``next_cursor`` back for the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
        if task_type is not None:
            validate_task_type(task_type)
        query = TaskQuery(status, task_type, limit, decode_cursor(cursor) if cursor else None)
        tasks = await self._repository.list_tasks(query)
        next_cursor = encode_cursor(tasks[-1]) if len(tasks) == limit else None
        return TaskPage(tasks, next_cursor)

    async def cancel(self, task_id: str) -> LongTask:
        """Cancel: a waiting task at once, a running one when its current step ends."""
        validate_task_id(task_id)
        return await self._repository.request_cancel(task_id, self._clock.now())

    async def retry(self, task_id: str) -> LongTask:
        """Run a FAILED task again from its last checkpoint, with its retries renewed."""
        validate_task_id(task_id)
        task = await self._repository.reset_failed(task_id, self._clock.now())
        try:
            await self._dispatcher.dispatch(task.id)
        except Exception as error:
            logger.warning("task %s: not dispatched (%s); the poll will run it", task.id, error)
        return task


def encode_cursor(task: LongTask) -> str:
    return f"{task.created_at.isoformat()}|{task.id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    created, separator, task_id = cursor.partition("|")
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError:
        created_at = None
    if not separator or created_at is None or created_at.tzinfo is None:
        raise ValueError(f"bad cursor {cursor[:60]!r}: pass back a page's next_cursor")
    return created_at, validate_task_id(task_id)
