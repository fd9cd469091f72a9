from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memory_domain.trigger_policy import TriggerPolicy

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
policies = st.builds(
    TriggerPolicy,
    threshold=st.integers(1, 500),
    force_after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=7)),
    max_batch=st.integers(1, 5000),
)
ages = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10))


@given(policies, st.integers(0, 1000), ages)
def test_due_exactly_when_threshold_reached_or_oldest_waited_long_enough(
    policy: TriggerPolicy, pending: int, age: timedelta
) -> None:
    expected = pending > 0 and (pending >= policy.threshold or age >= policy.force_after)
    assert policy.is_due(pending, NOW - age, NOW) is expected


@given(policies, st.integers(1, 1000), ages, st.integers(0, 100), ages)
def test_more_messages_or_more_waiting_never_makes_a_due_group_not_due(
    policy: TriggerPolicy, pending: int, age: timedelta, more: int, longer: timedelta
) -> None:
    if policy.is_due(pending, NOW - age, NOW):
        assert policy.is_due(pending + more, NOW - age, NOW)
        assert policy.is_due(pending, NOW - age - longer, NOW)


@given(policies, ages)
def test_a_group_without_pending_messages_is_never_due(policy: TriggerPolicy, age: timedelta) -> None:
    assert not policy.is_due(0, NOW - age, NOW)
    assert not policy.is_due(0, None, NOW)


def test_seed_defaults() -> None:
    policy = TriggerPolicy()
    assert (policy.threshold, policy.force_after, policy.max_batch) == (10, timedelta(minutes=60), 200)
    assert policy.is_due(10, NOW, NOW)
    assert not policy.is_due(9, NOW - timedelta(minutes=59), NOW)
    assert policy.is_due(1, NOW - timedelta(minutes=60), NOW)


@pytest.mark.parametrize(
    "kwargs", [{"threshold": 0}, {"max_batch": 0}, {"force_after": timedelta(minutes=-1)}]
)
def test_nonsensical_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TriggerPolicy(**kwargs)  # type: ignore[arg-type]
