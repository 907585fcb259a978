from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from webhooks.outbound.schedule import (
    DEFAULT_SCHEDULE,
    Outcome,
    RetrySchedule,
    classify,
    decide,
    next_attempt,
    parse_retry_after,
    should_disable_endpoint,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EXACT = RetrySchedule(jitter=0.0)
SHORT = RetrySchedule(delays=(1, 2, 3), jitter=0.0)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCESS),
        (201, Outcome.SUCCESS),
        (204, Outcome.SUCCESS),
        (299, Outcome.SUCCESS),
        (301, Outcome.FAILURE),
        (302, Outcome.FAILURE),
        (307, Outcome.FAILURE),
        (308, Outcome.FAILURE),
        (400, Outcome.FAILURE),
        (401, Outcome.FAILURE),
        (404, Outcome.FAILURE),
        (410, Outcome.GONE),
        (429, Outcome.THROTTLED),
        (500, Outcome.FAILURE),
        (502, Outcome.THROTTLED),
        (503, Outcome.FAILURE),
        (504, Outcome.THROTTLED),
        (100, Outcome.FAILURE),
        (None, Outcome.FAILURE),
    ],
)
def test_classify(status: int | None, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_default_schedule_is_svix_like_and_about_a_day() -> None:
    assert DEFAULT_SCHEDULE.delays == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert DEFAULT_SCHEDULE.max_attempts == 8
    assert timedelta(hours=20) <= DEFAULT_SCHEDULE.total_span <= timedelta(hours=30)


@pytest.mark.parametrize(
    ("attempt", "status", "retry_after", "expected"),
    [
        (1, 500, None, NOW + timedelta(seconds=5)),
        (2, 500, None, NOW + timedelta(minutes=5)),
        (3, None, None, NOW + timedelta(minutes=30)),
        (4, 302, None, NOW + timedelta(hours=2)),  # redirect = failure, retried, never followed
        (7, 404, None, NOW + timedelta(hours=10)),
        (8, 500, None, None),  # schedule exhausted: dead letter
        (1, 410, None, None),  # gone: stop at once
        (1, 200, None, None),  # delivered
        (1, 429, 120.0, NOW + timedelta(seconds=120)),  # Retry-After longer than the schedule wins
        (2, 429, 1.0, NOW + timedelta(minutes=5)),  # ...but never brings a retry forward
        (1, 503, 60.0, NOW + timedelta(seconds=60)),
        (1, 429, 10 * 86400.0, NOW + timedelta(days=1)),  # capped
        (8, 429, 1.0, None),
    ],
)
def test_next_attempt_table(
    attempt: int, status: int | None, retry_after: float | None, expected: datetime | None
) -> None:
    assert next_attempt(attempt, status, retry_after, NOW, EXACT) == expected


def test_decide_flags_dead_letter_and_disable() -> None:
    gone = decide(3, 410, None, NOW, SHORT)
    assert (gone.outcome, gone.dead_letter, gone.disable_endpoint) == (Outcome.GONE, True, True)
    exhausted = decide(4, 500, None, NOW, SHORT)
    assert (exhausted.dead_letter, exhausted.disable_endpoint, exhausted.next_at) == (True, False, None)
    ok = decide(2, 200, None, NOW, SHORT)
    assert (ok.dead_letter, ok.next_at) == (False, None)


def test_shortened_schedule_gives_four_attempts() -> None:
    times = [next_attempt(n, 500, None, NOW, SHORT) for n in (1, 2, 3, 4)]
    assert times == [NOW + timedelta(seconds=s) for s in (1, 2, 3)] + [None]


def test_jitter_stays_within_bounds_and_varies() -> None:
    rng = random.Random(42)
    schedule = RetrySchedule(jitter=0.2)
    delays = {(next_attempt(2, 500, None, NOW, schedule, rng) - NOW).total_seconds() for _ in range(200)}  # type: ignore[operator]
    assert all(240 <= d <= 360 for d in delays)
    assert len(delays) > 100


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sun, 01 Jun 2025 12:01:30 GMT", 90.0),
        ("Sat, 31 May 2025 00:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize("bad", [{"delays": (-1,)}, {"jitter": 1.0}, {"jitter": -0.1}])
def test_invalid_schedules_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetrySchedule(**bad)  # type: ignore[arg-type]


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        next_attempt(0, 500, None, NOW)


def test_endpoint_disabled_after_failing_for_long_enough() -> None:
    assert not should_disable_endpoint(None, NOW)
    assert not should_disable_endpoint(NOW - timedelta(hours=119), NOW)
    assert should_disable_endpoint(NOW - timedelta(hours=120), NOW)
