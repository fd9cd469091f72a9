"""The long-task domain's value objects: a task, its checkpoints, what a step settles to."""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

from long_tasks_domain.errors import InvalidProgress, NotJson, NotStorable

JsonValue: TypeAlias = Any
"""A value made of dicts, lists, strings, numbers, booleans and None only."""

TASK_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
MAX_JSON_BYTES = 1_000_000
MAX_DEDUPE_KEY_LENGTH = 200
MAX_ERROR_LENGTH = 4_000
MAX_TRACEBACK_LENGTH = 20_000
MAX_PROGRESS_MESSAGE_LENGTH = 500


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMMIT = "COMMIT"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class LongTask:
    """A checkpointed, multi-step task as stored.

    ``state`` is the last committed checkpoint (None before the first) and ``step`` how many
    checkpoints are committed. ``retry_count`` counts the failed tries of the current step; it
    is reset when the step's checkpoint commits.
    """

    id: str
    task_type: str
    status: TaskStatus
    payload: JsonValue
    created_at: datetime
    updated_at: datetime
    run_at: datetime
    max_retries: int
    state: JsonValue = None
    step: int = 0
    progress: float | None = None
    progress_message: str | None = None
    result: JsonValue = None
    error: str | None = None
    error_traceback: str | None = None
    retry_count: int = 0
    dedupe_key: str | None = None
    cancel_requested: bool = False
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """One committed checkpoint: the state after step ``step`` (1 for the first)."""

    task_id: str
    step: int
    state: JsonValue
    created_at: datetime
    duration_ms: int
    progress: float | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a held task's step (or its holding) ends; written atomically by the repository.

    ``status`` is COMMIT (with ``checkpoint``: committed, more to do), DONE (with ``result``),
    PENDING or COMMIT without a checkpoint (a failed try or an interrupted one, due again at
    ``run_at``), FAILED or CANCELLED. ``hold`` keeps the lease (COMMIT between two steps that
    the same worker runs); every other settlement gives the lease up. On a task whose cancel
    was requested, all but a checkpoint and DONE settle CANCELLED (``transitions.settled``).
    """

    status: TaskStatus
    at: datetime
    checkpoint: CheckpointRecord | None = None
    result: JsonValue = None
    error: str | None = None
    error_traceback: str | None = None
    retry_count: int = 0
    run_at: datetime | None = None
    hold: bool = False


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which tasks to list: newest first, ``limit`` at most, after the ``before`` cursor."""

    status: TaskStatus | None = None
    task_type: str | None = None
    limit: int = 50
    before: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True)
class TaskPage:
    tasks: list[LongTask] = field(default_factory=list)
    next_cursor: str | None = None


def validate_task_id(task_id: object) -> str:
    if not isinstance(task_id, str):
        raise ValueError(f"bad task id: a string is needed, got {type(task_id).__name__}")
    if not TASK_ID_PATTERN.fullmatch(task_id):
        raise ValueError(f"bad task id {task_id[:40]!r}: 1-128 letters, digits and _ . : -")
    return task_id


def validate_task_type(task_type: object) -> str:
    if not isinstance(task_type, str) or len(task_type) > 128 or not TASK_TYPE_PATTERN.fullmatch(task_type):
        shown = task_type[:40] if isinstance(task_type, str) else type(task_type).__name__
        raise ValueError(
            f"bad task type {shown!r}: dotted lower-case names such as 'maintenance.prune_tasks'"
        )
    return task_type


def validate_dedupe_key(key: object) -> str:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_DEDUPE_KEY_LENGTH:
        raise ValueError(f"a dedupe key is a string of 1 to {MAX_DEDUPE_KEY_LENGTH} characters")
    if storable_text(key) != key:
        raise ValueError("a dedupe key cannot hold NUL characters or lone surrogates")
    return key


def ensure_json(value: object, what: str) -> JsonValue:
    """``value`` as plain JSON (tuples become lists), or :class:`NotJson` naming ``what``.

    Refuses what JSON cannot hold faithfully (sets, objects, NaN, non-string keys), text with
    NUL characters (PostgreSQL's JSONB cannot store them) and documents over 1 MB.
    """
    _check_json(value, what, depth=0)
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if len(text.encode()) > MAX_JSON_BYTES:
        raise NotJson(f"{what} is larger than {MAX_JSON_BYTES:,} bytes as JSON")
    return json.loads(text)


def _check_json(value: object, what: str, depth: int) -> None:
    if depth > 100:
        raise NotJson(f"{what} is nested more than 100 levels deep")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJson(f"{what} holds {value!r}, which JSON cannot represent")
        return
    if isinstance(value, str):
        if "\x00" in value:
            raise NotJson(f"{what} holds a NUL character, which cannot be stored")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, what, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJson(f"{what} has a non-string key {key!r}")
            _check_json(key, what, depth + 1)
            _check_json(item, what, depth + 1)
        return
    raise NotJson(f"{what} holds a {type(value).__name__}, which is not JSON")


def storable_text(text: str) -> str:
    """``text`` with what PostgreSQL's text cannot hold escaped: NUL characters and lone
    surrogates (which are not UTF-8) become backslash escapes."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def clip(text: str, limit: int) -> str:
    """``text`` made storable (see :func:`storable_text`) and cut to ``limit`` characters."""
    text = storable_text(text)
    return text if len(text) <= limit else text[: limit - 20] + " … (truncated)"


def progress_fraction(value: object) -> float | None:
    """A progress as a fraction, clamped to [0, 1]; None stays None.

    Raises :class:`InvalidProgress` for what is not a finite number (``"half"``, NaN, True).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidProgress(f"a progress is a number between 0 and 1, not a {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidProgress(f"a progress is a number between 0 and 1, not {number!r}")
    return min(1.0, max(0.0, number))


def check_storable(task: LongTask) -> LongTask:
    """``task`` if every value of it can be stored, else :class:`NotStorable` naming the field.

    Every repository adapter applies this to what it writes, so the in-memory one refuses
    exactly what PostgreSQL would (and PostgreSQL's refusal never looks like an outage).
    """
    for name in ("task_type", "dedupe_key", "error", "error_traceback", "progress_message"):
        value = getattr(task, name)
        if value is not None and storable_text(value) != value:
            raise NotStorable(f"task {task.id}: its {name} holds a NUL or a character that is not UTF-8")
    _check_progress(task.id, task.progress)
    return task


def check_storable_checkpoint(checkpoint: CheckpointRecord) -> CheckpointRecord:
    _check_progress(checkpoint.task_id, checkpoint.progress)
    return checkpoint


def _check_progress(task_id: str, progress: object) -> None:
    valid = progress is None or (
        isinstance(progress, float | int)
        and not isinstance(progress, bool)
        and math.isfinite(progress)
        and 0 <= progress <= 1
    )
    if not valid:
        raise NotStorable(f"task {task_id}: a progress is a number between 0 and 1, not {progress!r}")


TAKEOVER_ERROR = (
    "the worker running this step stopped renewing its lease (it died or hung); the task was taken over"
)
