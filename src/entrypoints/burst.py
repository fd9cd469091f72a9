"""``ai-worker worker --burst``: run what is due now, then stop.

arq's burst mode stops when its queue is empty, counting jobs deferred to later too: a long
task submitted with ``--run-at`` tomorrow, or a retry waiting out its backoff, would keep a
burst worker polling until then. This worker stops once nothing is due now and nothing runs.
"""

from __future__ import annotations

from typing import Any

from arq.utils import timestamp_ms
from arq.worker import Worker, get_kwargs


class DueNowWorker(Worker):
    """An arq worker whose burst mode ends when no job is due now (later ones stay queued)."""

    async def _poll_iteration(self) -> None:
        await super()._poll_iteration()
        if self.burst and not self.tasks and await self.due_now() == 0:
            # arq's loop ends a burst once the jobs started reach max_burst_jobs.
            self.max_burst_jobs = self._jobs_started()

    async def due_now(self) -> int:
        """Jobs of this worker's queue whose time has come (running ones included)."""
        count: int = await self.pool.zcount(self.queue_name, "-inf", timestamp_ms())
        return count


def due_now_worker(settings_class: type, **overrides: Any) -> DueNowWorker:
    """A :class:`DueNowWorker` from arq settings, as ``arq.worker.run_worker`` builds its worker."""
    kwargs: dict[str, Any] = get_kwargs(settings_class)
    kwargs.update(overrides)
    return DueNowWorker(**kwargs)
