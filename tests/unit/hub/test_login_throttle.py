"""The log-in throttle's arithmetic: when a username locks, for how long, and when its count starts over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hub.security.throttle import MAX_LOCKOUT, Failures, Policy, after_failure, locked_for

POLICY = Policy(max_failures=5, window=timedelta(minutes=15), lockout=timedelta(minutes=5))
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def fail(times: int, state: Failures | None = None, start: datetime = T0, step: timedelta = timedelta(seconds=1)):
    now = start
    for _ in range(times):
        state = after_failure(state, now, POLICY)
        now += step
    return state, now


def test_the_fifth_wrong_password_in_the_window_locks_for_the_lockout() -> None:
    state, now = fail(4)
    assert locked_for(state, now) == 0
    state, _ = fail(1, state, now)
    assert locked_for(state, now) == 300


def test_each_further_lockout_of_the_same_run_lasts_twice_as_long() -> None:
    state, now = fail(5)
    after = now + timedelta(minutes=5, seconds=1)
    assert locked_for(state, after) == 0
    state, _ = fail(5, state, after)
    assert state.locked_until is not None and state.locked_until - state.first_at == timedelta(minutes=10)


def test_failures_spread_wider_than_the_window_never_lock() -> None:
    state, now = fail(20, step=timedelta(minutes=4))  # 4 per quarter hour at most
    assert locked_for(state, now) == 0


@given(st.integers(min_value=0, max_value=200))
def test_a_lockout_never_exceeds_a_day(runs: int) -> None:
    state = after_failure(Failures(POLICY.max_failures - 1, T0, None, runs), T0, POLICY)
    assert timedelta(seconds=locked_for(state, T0)) <= MAX_LOCKOUT
