"""The long task's state machine: every status change is one of these transitions.

::

    PENDING ──claim──► RUNNING ──checkpoint──► COMMIT ──next step──► RUNNING ...
       │                 │  │  └──result──► DONE
       │                 │  └──failed try, retry later──► PENDING (no checkpoint yet) / COMMIT
       │                 └──retries used up, or a permanent error──► FAILED ──retry──► PENDING
       └──cancel──► CANCELLED ◄──cancel (waiting at once, running at its next step boundary)

``RUNNING → RUNNING`` is the takeover of a task whose worker died: its lease expired and
another worker claims it. DONE and CANCELLED are final; FAILED is final until retried by hand.
"""

from __future__ import annotations

from collections.abc import Mapping

from long_tasks_domain.errors import IllegalTransition
from long_tasks_domain.model import TaskStatus

_P, _R, _C = TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.COMMIT
_D, _F, _X = TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED

TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    _P: frozenset({_R, _X}),
    _R: frozenset({_R, _C, _D, _F, _P, _X}),
    _C: frozenset({_R, _X}),
    _D: frozenset(),
    _F: frozenset({_P}),
    _X: frozenset(),
}

# Claimable when due: waiting for their (next) step. RUNNING is claimable only once its lease
# expired (a takeover).
WAITING: frozenset[TaskStatus] = frozenset({_P, _C})
FINISHED: frozenset[TaskStatus] = frozenset({_D, _F, _X})


def can_transition(source: TaskStatus, target: TaskStatus) -> bool:
    return target in TRANSITIONS[source]


def ensure_transition(source: TaskStatus, target: TaskStatus, task_id: str = "") -> TaskStatus:
    """Return ``target`` when ``source → target`` is legal, else raise :class:`IllegalTransition`."""
    if not can_transition(source, target):
        subject = f"task {task_id}: " if task_id else ""
        raise IllegalTransition(f"{subject}a {source.value} task cannot become {target.value}")
    return target


def sources_of(target: TaskStatus) -> frozenset[TaskStatus]:
    """Every status from which ``target`` may be reached (what a guarded UPDATE may match)."""
    return frozenset(source for source, targets in TRANSITIONS.items() if target in targets)
