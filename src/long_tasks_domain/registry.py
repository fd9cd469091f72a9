"""The registry of task handlers: a task type, its payload model, and the step function.

A handler runs one step from the last checkpoint and returns the next checkpoint or the
result::

    tasks = TaskRegistry()

    class Payload(BaseModel):
        pages: int

    @tasks.handler("report.render", payload=Payload)
    async def render(step: TaskStep[Payload]) -> Checkpoint | Completed:
        done = (step.state or {}).get("done", 0)
        ...
        await step.report_progress((done + 1) / step.payload.pages)
        if done + 1 == step.payload.pages:
            return Completed({"pages": done + 1})
        return Checkpoint({"done": done + 1})

A handler that needs services is a closure or a bound method registered where they are built
(``entrypoints``): ``tasks.register("x.y", Payload, MyTask(service).step)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

from pydantic import BaseModel, ValidationError

from long_tasks_domain.errors import DuplicateTaskType, InvalidPayload, UnknownTaskType
from long_tasks_domain.model import (
    MAX_PROGRESS_MESSAGE_LENGTH,
    JsonValue,
    clip,
    progress_fraction,
    validate_task_type,
)

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A step's result when more steps follow: the state the next step starts from (JSON).

    ``progress`` is a fraction (clamped to [0, 1]); anything else fails the task, as a state
    that is not JSON does.
    """

    state: JsonValue
    progress: float | None = None


@dataclass(frozen=True, slots=True)
class Completed:
    """The last step's result: the task's result (JSON)."""

    result: JsonValue = None


StepOutcome: TypeAlias = Checkpoint | Completed


class ProgressSink(Protocol):
    async def __call__(self, progress: float | None, message: str | None) -> None: ...


async def _ignore_progress(progress: float | None, message: str | None) -> None:
    return None


@dataclass(frozen=True, slots=True)
class TaskStep(Generic[P]):
    """What a handler gets: the task, its validated payload, and the last checkpoint.

    ``step`` is how many checkpoints are committed (this is step ``step + 1``); ``state`` is the
    last one's state, None on the first step. ``attempt`` is 1 on the step's first try.
    """

    task_id: str
    task_type: str
    payload: P
    state: JsonValue = None
    step: int = 0
    attempt: int = 1
    progress_sink: ProgressSink = field(default=_ignore_progress, repr=False)

    async def report_progress(self, progress: float | None = None, message: str | None = None) -> None:
        """Record how far the task is (a fraction, clamped to [0, 1]) and what it is doing.

        Raises :class:`InvalidProgress` for a progress that is not a number.
        """
        fraction = progress_fraction(progress)
        await self.progress_sink(fraction, clip(message, MAX_PROGRESS_MESSAGE_LENGTH) if message else None)


StepFunction: TypeAlias = Callable[[TaskStep[Any]], Awaitable[StepOutcome]]


@dataclass(frozen=True, slots=True)
class TaskHandler:
    task_type: str
    payload_model: type[BaseModel]
    run: StepFunction
    description: str = ""

    def parse(self, payload: object) -> BaseModel:
        """The payload as the handler's model; :class:`InvalidPayload` naming each bad field."""
        try:
            return self.payload_model.model_validate(payload)
        except ValidationError as error:
            # Without the input values: a payload may carry what must not reach the logs.
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or 'payload'}: {item['msg']}"
                for item in error.errors(include_url=False, include_input=False)
            )
            raise InvalidPayload(f"bad payload for task type {self.task_type!r}: {problems}") from None


class TaskRegistry:
    """Handlers by task type. Registries combine with :meth:`include`."""

    def __init__(self) -> None:
        self._handlers: dict[str, TaskHandler] = {}

    def handler(
        self, task_type: str, *, payload: type[P], description: str | None = None
    ) -> Callable[
        [Callable[[TaskStep[P]], Awaitable[StepOutcome]]], Callable[[TaskStep[P]], Awaitable[StepOutcome]]
    ]:
        """Register the decorated step function under ``task_type``."""

        def decorate(
            function: Callable[[TaskStep[P]], Awaitable[StepOutcome]],
        ) -> Callable[[TaskStep[P]], Awaitable[StepOutcome]]:
            self.register(task_type, payload, function, description=description)
            return function

        return decorate

    def register(
        self,
        task_type: str,
        payload: type[P],
        function: Callable[[TaskStep[P]], Awaitable[StepOutcome]],
        *,
        description: str | None = None,
    ) -> None:
        validate_task_type(task_type)
        if task_type in self._handlers:
            raise DuplicateTaskType(f"a handler is already registered for task type {task_type!r}")
        if description is None:
            description = (function.__doc__ or "").strip().split("\n", 1)[0]
        self._handlers[task_type] = TaskHandler(task_type, payload, function, description)

    def include(self, other: TaskRegistry) -> None:
        """Add every handler of ``other`` (a task type may be registered once only)."""
        for handler in other:
            self.register(
                handler.task_type, handler.payload_model, handler.run, description=handler.description
            )

    def get(self, task_type: str) -> TaskHandler:
        try:
            return self._handlers[task_type]
        except KeyError:
            known = ", ".join(sorted(self._handlers)) or "none"
            raise UnknownTaskType(f"unknown task type {task_type[:128]!r} (registered: {known})") from None

    def __contains__(self, task_type: object) -> bool:
        return task_type in self._handlers

    def __iter__(self) -> Iterator[TaskHandler]:
        return iter(sorted(self._handlers.values(), key=lambda handler: handler.task_type))

    def __len__(self) -> int:
        return len(self._handlers)
