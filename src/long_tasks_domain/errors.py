"""Errors of the long-task domain. Adapters translate driver errors into these."""

from __future__ import annotations


class LongTaskError(Exception):
    """Base class of every error the long-task domain raises."""


class TaskNotFound(LongTaskError, LookupError):
    """No task has this id."""


class IllegalTransition(LongTaskError):
    """A status change the state machine does not allow (e.g. cancelling a DONE task)."""


class UnknownTaskType(LongTaskError, ValueError):
    """No handler is registered under this task type."""


class InvalidPayload(LongTaskError, ValueError):
    """The payload does not validate against the handler's payload model."""


class NotJson(LongTaskError, ValueError):
    """A value that must be stored as JSON (payload, checkpoint, result) is not plain JSON."""


class PermanentTaskError(LongTaskError):
    """Raised by a handler when retrying the step cannot help: the task fails at once."""


class LeaseLost(LongTaskError):
    """The worker no longer holds the task (taken over, or cancelled); it must not write."""


class TaskStorageUnavailable(LongTaskError):
    """The task store could not be reached or refused the operation."""


class DuplicateTaskType(LongTaskError, ValueError):
    """Two handlers were registered under one task type."""


class StepTimedOut(LongTaskError):
    """A step ran longer than the step timeout (``LONG_TASK_LOCK_TIMEOUT_SECONDS``) and was cancelled."""


class StepCancelled(LongTaskError):
    """The step raised CancelledError while nothing cancelled it (it awaited something that was
    cancelled): an ordinary failed try, not a worker shutdown."""


class InvalidProgress(LongTaskError, ValueError):
    """A progress that is not a number (a fraction in [0, 1])."""


class NotStorable(LongTaskError, ValueError):
    """A task value the store cannot hold (a NUL character, a progress outside [0, 1]).

    The domain cleans or refuses such values first; this is what the repository raises when
    one gets through anyway, the same on every adapter (never a "database unreachable")."""


class DedupeKeyConflict(LongTaskError, ValueError):
    """A dedupe key reused for the same task type with a different payload."""
