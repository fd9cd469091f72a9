"""JSON job serialisation for arq: jobs are never pickled (DESIGN invariant 7)."""

from __future__ import annotations

import json
from typing import Any

PICKLE_PROTOCOL_MARKER = 0x80

HOW_TO_ENQUEUE = (
    "jobs must be JSON; enqueue with `from entrypoints import create_pool; "
    'pool = await create_pool(); await pool.enqueue_job("task_update_topic_memory", "group-1")`'
)


class PickledJobRefused(ValueError):
    """A job arrived pickled (arq's default); this worker runs JSON jobs only."""


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
