"""Property tests of the long task's state machine and of the operations that move a task."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from long_tasks_domain import transitions
from long_tasks_domain.errors import IllegalTransition, LeaseLost
from long_tasks_domain.model import CheckpointRecord, LongTask, Settlement, TaskStatus
from long_tasks_domain.state_machine import TRANSITIONS, can_transition, ensure_transition, sources_of
from tests.support.task_world import START

statuses = st.sampled_from(list(TaskStatus))
FINAL = {TaskStatus.DONE, TaskStatus.CANCELLED}


@given(statuses, statuses)
def test_a_transition_is_allowed_exactly_when_the_table_lists_it(
    source: TaskStatus, target: TaskStatus
) -> None:
    if target in TRANSITIONS[source]:
        assert ensure_transition(source, target) is target
        assert source in sources_of(target)
    else:
        with pytest.raises(IllegalTransition, match=f"a {source.value} task cannot become {target.value}"):
            ensure_transition(source, target, "t1")
        assert source not in sources_of(target)


def test_done_and_cancelled_are_final_and_every_status_is_reachable_from_pending() -> None:
    assert all(not TRANSITIONS[status] for status in FINAL)
    reached, frontier = {TaskStatus.PENDING}, [TaskStatus.PENDING]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(TaskStatus)
    assert sources_of(TaskStatus.DONE) == {TaskStatus.RUNNING}
    assert sources_of(TaskStatus.COMMIT) == {TaskStatus.RUNNING}


def _task() -> LongTask:
    return LongTask("t1", "x.y", TaskStatus.PENDING, {}, START, START, START, max_retries=3)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "claim",
                "start",
                "checkpoint",
                "done",
                "retry_later",
                "fail",
                "cancel_held",
                "cancel",
                "reset",
                "wait",
            ]
        ),
        st.booleans(),  # act with the current lease token, or a stale one
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(OPERATIONS)
def test_any_sequence_of_operations_changes_status_only_along_legal_transitions(
    operations: list[tuple[str, bool]],
) -> None:
    task, now, tokens = _task(), START, 0
    for name, current_token in operations:
        before = task
        token = task.lease_token if current_token and task.lease_token else "stale"
        lease = now + timedelta(seconds=30)
        try:
            if name == "claim":
                if transitions.is_due(task, now):
                    tokens += 1
                    task = transitions.claimed(task, now, lease, f"lease-{tokens}")
            elif name == "start":
                task = transitions.step_started(transitions.held(task, "t1", token), now, lease)
            elif name == "checkpoint":
                record = CheckpointRecord("t1", task.step + 1, {"n": task.step + 1}, now, 1)
                settlement = Settlement(TaskStatus.COMMIT, now, checkpoint=record, hold=True)
                task = transitions.settled(transitions.held(task, "t1", token), settlement)
            elif name in ("done", "fail", "cancel_held", "retry_later"):
                target = {
                    "done": TaskStatus.DONE,
                    "fail": TaskStatus.FAILED,
                    "cancel_held": TaskStatus.CANCELLED,
                    "retry_later": TaskStatus.COMMIT if task.step else TaskStatus.PENDING,
                }[name]
                settlement = Settlement(target, now, run_at=now + timedelta(seconds=5), retry_count=1)
                task = transitions.settled(transitions.held(task, "t1", token), settlement)
            elif name == "cancel":
                task = transitions.cancel_requested(task, now)
            elif name == "reset":
                task = transitions.reset_for_retry(task, now)
            else:
                now += timedelta(seconds=20)
        except (IllegalTransition, LeaseLost, ValueError):
            assert task == before
            continue
        if task.status is not before.status or (name == "claim" and task is not before):
            assert can_transition(before.status, task.status), (name, before.status, task.status)
        if before.status in FINAL:
            assert task.status is before.status
        assert task.step >= before.step
        if task.status in {TaskStatus.PENDING, TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED}:
            assert task.lease_token is None
        if task.status is TaskStatus.RUNNING:
            assert task.lease_token is not None and task.lease_expires_at is not None


def test_a_stale_lease_token_writes_nothing() -> None:
    task = transitions.claimed(_task(), START, START + timedelta(seconds=30), "mine")
    with pytest.raises(LeaseLost, match="no longer held"):
        transitions.held(task, "t1", "theirs")
    with pytest.raises(LeaseLost):
        transitions.held(None, "t1", "mine")


def test_a_checkpoint_must_follow_the_last_one() -> None:
    task = transitions.claimed(_task(), START, START + timedelta(seconds=30), "mine")
    skipping = CheckpointRecord("t1", 2, {}, START, 1)
    with pytest.raises(ValueError, match="checkpoint 2 cannot follow step 0"):
        transitions.settled(task, Settlement(TaskStatus.COMMIT, START, checkpoint=skipping))


def test_a_takeover_is_due_only_once_the_lease_ran_out_and_counts_a_try() -> None:
    task = transitions.claimed(_task(), START, START + timedelta(seconds=30), "dead")
    assert not transitions.is_due(task, START + timedelta(seconds=29))
    later = START + timedelta(seconds=30)
    assert transitions.is_due(task, later) and transitions.lease_expired(task, later)
    taken = transitions.claimed(task, later, later + timedelta(seconds=30), "alive")
    assert (taken.status, taken.retry_count, taken.lease_token) == (TaskStatus.RUNNING, 1, "alive")
    assert not transitions.lease_expired(replace(task, lease_expires_at=None, lease_token=None), later)
