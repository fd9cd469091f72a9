"""JSON job serialisation for arq: jobs are never pickled (DESIGN invariant 7)."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

PICKLE_PROTOCOL_MARKER = 0x80

HOW_TO_ENQUEUE = (
    "jobs must be JSON; enqueue with `from entrypoints import create_pool; "
    'pool = await create_pool(); await pool.enqueue_job("task_update_topic_memory", "group-1")`'
)


class PickledJobRefused(ValueError):
    """A job arrived pickled (arq's default); this worker runs JSON jobs only."""


class JobRefused(ValueError):
    """A job refused at enqueue: the worker has no such function, or an argument is not JSON."""


JSON_VALUES = "strings, numbers, true, false, null, and lists and objects (string keys) of them"


def check_job(function: str, args: Sequence[Any], kwargs: Mapping[str, Any], known: Collection[str]) -> None:
    """Refuse, at enqueue, a job that only the worker's log would notice otherwise.

    ``serialize`` turns what JSON cannot hold into something (a set into a list, bytes into
    their repr), which is right for results but would hand a job function an argument other
    than the one given.
    """
    if function not in known:
        raise JobRefused(
            f"refused to enqueue {function!r}: the worker has no such function "
            f"(it runs {', '.join(sorted(known))})"
        )
    given = [(f"argument {index}", value) for index, value in enumerate(args, start=1)]
    given += [(f"argument {name!r}", value) for name, value in kwargs.items()]
    for where, value in given:
        problem = _not_json(value, where)
        if problem is not None:
            raise JobRefused(
                f"refused to enqueue {function}: {problem}; job arguments are JSON: {JSON_VALUES}"
            )


def _not_json(value: Any, where: str) -> str | None:
    """What in ``value`` JSON cannot hold as it is, or None."""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} is {value!r}, which JSON cannot hold"
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = _not_json(item, f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has a key that is not a string ({key!r})"
            problem = _not_json(item, f"{where}[{key!r}]")
            if problem is not None:
                return problem
        return None
    return f"{where} is of type {type(value).__name__}"


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "message": str(value)}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value)


def serialize(data: dict[str, Any]) -> bytes:
    """Serialise an arq job or result as UTF-8 JSON; exceptions become ``{error, message}``."""
    return json.dumps(data, default=_default, ensure_ascii=False).encode()


def deserialize(raw: bytes) -> dict[str, Any]:
    """Parse a JSON job; a pickled one is refused with an error that says how to enqueue."""
    if raw[:1] and raw[0] == PICKLE_PROTOCOL_MARKER:
        raise PickledJobRefused(f"refused a pickled job: {HOW_TO_ENQUEUE}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PickledJobRefused(f"refused a job that is not JSON ({error}): {HOW_TO_ENQUEUE}") from error
    if not isinstance(data, dict):
        raise PickledJobRefused(f"refused a job that is not a JSON object: {HOW_TO_ENQUEUE}")
    return data
