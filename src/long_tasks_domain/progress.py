"""A running step's progress reports, written through the task's lease (throttled)."""

from __future__ import annotations

import logging
import time

from long_tasks_domain.errors import TaskStorageUnavailable
from long_tasks_domain.model import MAX_PROGRESS_MESSAGE_LENGTH, clip, progress_fraction
from long_tasks_domain.ports import Clock, TaskRepository

logger = logging.getLogger(__name__)

# A handler may report progress for every item it handles; the database sees at most this rate.
MIN_INTERVAL_SECONDS = 0.5


class ProgressWriter:
    """Stores a step's progress reports; the last one also goes onto the step's checkpoint."""

    def __init__(self, repository: TaskRepository, clock: Clock, task_id: str, token: str) -> None:
        self._repository = repository
        self._clock = clock
        self._task_id = task_id
        self._token = token
        self._written_at: float | None = None
        self.last: float | None = None

    async def write(self, progress: float | None, message: str | None) -> None:
        # TaskStep.report_progress cleaned them already; a handler may call the sink itself.
        progress = progress_fraction(progress)
        message = clip(message, MAX_PROGRESS_MESSAGE_LENGTH) if message else None
        if progress is not None:
            self.last = progress
        now = time.monotonic()
        if self._written_at is not None and now - self._written_at < MIN_INTERVAL_SECONDS:
            return
        self._written_at = now
        try:
            await self._repository.record_progress(
                self._task_id, self._token, progress, message, self._clock.now()
            )
        except TaskStorageUnavailable as error:
            # Progress is informative; a step does not fail because it could not be shown.
            logger.warning("task %s: progress not recorded: %s", self._task_id, error)
