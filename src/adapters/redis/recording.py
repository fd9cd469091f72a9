"""The pending bookkeeping of recording in one Redis round trip: counters, due index, arq jobs.

One script per batch: it adds the pending counts (as :class:`RedisPendingIndex.add_pending`),
checks the failure backoff of the groups that reached the threshold (as ``in_backoff``) and
enqueues their topic updates as arq's ``enqueue_job`` would (the same job key, queue entry and
JSON job), skipping a group whose job is queued, running or has a result. Being one script, it
is atomic: two recorders cannot both enqueue a group.
"""

from __future__ import annotations

import json
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
# ARGV: due (ms), now (ms), threshold, enqueue time (ms), the job's JSON before and after the
#       group id; then per group: group id, count to add.
# The job id and the arq keys of a group are made here from the group id: the prefixes are
# constants of this adapter, formatted into the script (a call sends only what varies).
# Returns the 1-based positions of the groups enqueued.
_RECORD_PENDING = """
local due_at, now, threshold = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local score, job_head, job_tail = ARGV[4], ARGV[5], ARGV[6]
local enqueued = {}
for i = 1, (#ARGV - 6) / 2 do
  local group = ARGV[5 + i * 2]
  local count = redis.call('HINCRBY', KEYS[1], group, ARGV[6 + i * 2])
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
      redis.call('SET', job_key, job_head .. group .. job_tail, 'PX', %(expiry_ms)d)
      redis.call('ZADD', KEYS[4], score, job_id)
      enqueued[#enqueued + 1] = i
    end
  end
end
return enqueued
"""

_GROUP_MARK = "\u2063group\u2063"  # stands for the group id in the job's JSON


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
        self._serializer = pool.job_serializer
        # JSON string literals are Lua string literals for these ASCII prefixes.
        source = _RECORD_PENDING % {
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
        enqueue_ms = int(time.time() * 1000)
        head, tail = self._job_template(enqueue_ms)
        args: list[Any] = [to_ms(due_at), to_ms(now), threshold, enqueue_ms, head, tail]
        for group_id in groups:
            if json.dumps(group_id) != f'"{group_id}"':
                # Group ids are validated to a JSON-safe alphabet; anything else is refused
                # rather than spliced into the job unescaped.
                raise ValueError(f"group id {group_id[:40]!r} cannot be put in a job as it is")
            args += [group_id, counts[group_id]]
        async with translated("recording pending messages"):
            positions = await self._script(keys=self._keys, args=args)
        return [groups[int(position) - 1] for position in positions]

    def _job_template(self, enqueue_ms: int) -> tuple[bytes, bytes]:
        """The serialised job of ``task_update_topic_memory(group)``, split where the group id goes."""
        job = serialize_job(
            UPDATE_FUNCTION, (_GROUP_MARK,), {}, None, enqueue_ms, serializer=self._serializer
        )
        head, mark, tail = job.partition(_GROUP_MARK.encode())
        if not mark:
            raise ValueError("the job serializer does not keep the group id as it is")
        return head, tail
