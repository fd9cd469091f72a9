"""The pending bookkeeping of recording in one Redis round trip: counters, due index, arq jobs.

One script per batch: it adds the pending counts (as :class:`RedisPendingIndex.add_pending`),
checks the failure backoff of the groups that reached the threshold (as ``in_backoff``) and
enqueues their topic updates as arq's ``enqueue_job`` would (the same job key, queue entry and
JSON job), skipping a group whose job is queued, running or has a result. Being one script, it
is atomic: two recorders cannot both enqueue a group.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

from adapters.redis.arq_queue import UPDATE_FUNCTION, update_job_id
from adapters.redis.errors import translated
from adapters.redis.pending_index import RedisPendingIndex, to_ms

# KEYS: counts, due, streaks, arq queue.
# ARGV: due (ms), now (ms), threshold, enqueue time (ms); then per group: group id, count to add.
# The job id, the arq keys and the JSON job of a group are made here from the group id and the
# enqueue time: the rest of them is constant, formatted into the script once (a call sends only
# what varies; the job is the serializer's own output with the two values put in their places).
# Returns the 1-based positions of the groups enqueued.
_RECORD_PENDING = """
local due_at, now, threshold = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local score = ARGV[4]
local enqueued = {}
for i = 1, (#ARGV - 4) / 2 do
  local group = ARGV[3 + i * 2]
  local count = redis.call('HINCRBY', KEYS[1], group, ARGV[4 + i * 2])
  redis.call('ZADD', KEYS[2], 'NX', due_at, group)
  if count >= threshold then
    local waiting = false
    local streak = tonumber(redis.call('HGET', KEYS[3], group) or '0')
    if streak > 0 then
      local retry = redis.call('ZSCORE', KEYS[2], group)
      waiting = retry ~= false and tonumber(retry) > now
    end
    local job_id = %(job_id_prefix)s .. group
    local job_key = %(job_key_prefix)s .. job_id
    if not waiting and redis.call('EXISTS', job_key, %(result_key_prefix)s .. job_id,
                                  %(in_progress_key_prefix)s .. job_id) == 0 then
      local job = %(job_head)s .. group .. %(job_middle)s .. score .. %(job_tail)s
      redis.call('SET', job_key, job, 'PX', %(expiry_ms)d)
      redis.call('ZADD', KEYS[4], score, job_id)
      enqueued[#enqueued + 1] = i
    end
  end
end
return enqueued
"""

# Stand for the group id and the enqueue time in the serialised job.
_GROUP_MARK = "\u2063group\u2063"
_TIME_MARK = 918_273_645_546_372
# What JSON escapes (ensure_ascii off): such a group id could not be put in the job as it is.
_ESCAPED_IN_JSON = re.compile(r'["\\\x00-\x1f]')


class RedisPendingRecorder:
    """The :class:`memory_domain.ports.PendingRecorder` port on the keys of the pending index
    and the arq queue of topic updates."""

    def __init__(
        self, index: RedisPendingIndex, pool: ArqRedis, queue_name: str = default_queue_name
    ) -> None:
        if pool.job_serializer is None:
            # arq would pickle the jobs, and a pickle cannot be spliced (nor run: no pickle here).
            raise ValueError("the arq pool must serialise jobs as JSON (adapters.redis.serialization)")
        self._keys = [index.counts_key, index.due_key, index.streaks_key, queue_name]
        job = serialize_job(
            UPDATE_FUNCTION, (_GROUP_MARK,), {}, None, _TIME_MARK, serializer=pool.job_serializer
        )
        head, group_mark, rest = job.partition(_GROUP_MARK.encode())
        middle, time_mark, tail = rest.partition(str(_TIME_MARK).encode())
        if not group_mark or not time_mark:
            raise ValueError("the job serializer does not write the group id and the time as they are")
        # JSON string literals are Lua string literals for these ASCII prefixes.
        source = _RECORD_PENDING % {
            "job_head": _lua_text(head),
            "job_middle": _lua_text(middle),
            "job_tail": _lua_text(tail),
            "job_id_prefix": json.dumps(update_job_id("")),
            "job_key_prefix": json.dumps(job_key_prefix),
            "result_key_prefix": json.dumps(result_key_prefix),
            "in_progress_key_prefix": json.dumps(in_progress_key_prefix),
            "expiry_ms": pool.expires_extra_ms,
        }
        self._script = pool.register_script(source)

    async def record_pending(
        self, counts: dict[str, int], due_at: datetime, now: datetime, threshold: int
    ) -> list[str]:
        groups = sorted(counts)
        if not groups:
            return []
        # arq stamps a job with the wall clock (its enqueue time and queue score); the backoff
        # is judged by the caller's clock, as PendingIndex.in_backoff does.
        args: list[Any] = [to_ms(due_at), to_ms(now), threshold, int(time.time() * 1000)]
        for group_id in groups:
            if _ESCAPED_IN_JSON.search(group_id):
                # Group ids are validated to a JSON-safe alphabet; anything else is refused
                # rather than spliced into the job unescaped.
                raise ValueError(f"group id {group_id[:40]!r} cannot be put in a job as it is")
            args += [group_id, counts[group_id]]
        async with translated("recording pending messages"):
            positions = await self._script(keys=self._keys, args=args)
        return [groups[int(position) - 1] for position in positions]


def _lua_text(piece: bytes) -> str:
    """``piece`` as a Lua long-bracket string literal (no escapes are read inside one)."""
    text = piece.decode()
    level = "=" * next(n for n in range(1, 10) if f"]{'=' * n}]" not in text)
    return f"[{level}[{text}]{level}]"
