"""When to try an outbound delivery again, and what a response status means.

Per Standard Webhooks: 2xx is success; 3xx is a failure (redirects are never followed); 410 Gone
disables the endpoint; 429/502/504 mean "slow down" and any ``Retry-After`` is honoured; every
other status, a timeout or a network error is a failure retried on the schedule. The default
schedule follows Svix: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts
spread over about 27.6 h — with random jitter so that retries of one outage do not arrive together.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = [
    "DEFAULT_SCHEDULE",
    "Decision",
    "Outcome",
    "RetrySchedule",
    "classify",
    "decide",
    "next_attempt",
    "parse_retry_after",
    "should_disable_endpoint",
]

THROTTLE_STATUSES = frozenset({429, 502, 504})


class Outcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"  # retried on the schedule (includes 3xx, 4xx, 5xx, timeouts, network errors)
    THROTTLED = "throttled"  # retried, no earlier than Retry-After
    GONE = "gone"  # 410: stop, dead-letter, disable the endpoint


def classify(status: int | None) -> Outcome:
    """Outcome of one attempt; ``None`` means no HTTP response (timeout, refused, SSRF guard)."""
    if status is None:
        return Outcome.FAILURE
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status == 410:
        return Outcome.GONE
    if status in THROTTLE_STATUSES:
        return Outcome.THROTTLED
    return Outcome.FAILURE


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """``delays[n]`` seconds separate attempt n+1 from attempt n+2; attempt 1 is immediate."""

    delays: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    jitter: float = 0.2  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
    max_retry_after: float = 86400.0  # a Retry-After beyond this is capped, so one header cannot park a message

    def __post_init__(self) -> None:
        if any(d < 0 for d in self.delays):
            raise ValueError(f"retry delays must be >= 0, got {self.delays}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    @property
    def total_span(self) -> timedelta:
        """Time from the first to the last attempt, without jitter."""
        return timedelta(seconds=sum(self.delays))


DEFAULT_SCHEDULE = RetrySchedule()


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    next_at: datetime | None  # None: no further attempt
    dead_letter: bool = False
    disable_endpoint: bool = False
    reason: str = field(default="")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def decide(
    attempt_no: int,
    response_status: int | None,
    retry_after: float | None,
    now: datetime,
    schedule: RetrySchedule = DEFAULT_SCHEDULE,
    rng: random.Random | None = None,
) -> Decision:
    """Full decision after attempt ``attempt_no`` (1-based) ended with ``response_status``."""
    if attempt_no < 1:
        raise ValueError(f"attempt numbers start at 1, got {attempt_no}")
    outcome = classify(response_status)
    if outcome is Outcome.SUCCESS:
        return Decision(outcome, None, reason="delivered")
    if outcome is Outcome.GONE:
        return Decision(outcome, None, dead_letter=True, disable_endpoint=True, reason="410 Gone: endpoint disabled")
    if attempt_no >= schedule.max_attempts:
        return Decision(outcome, None, dead_letter=True, reason=f"gave up after {attempt_no} attempts")
    base = schedule.delays[attempt_no - 1]
    delay = base * (1 + (rng or random).uniform(-schedule.jitter, schedule.jitter)) if schedule.jitter else base
    if retry_after is not None:
        delay = max(delay, min(max(retry_after, 0.0), schedule.max_retry_after))
    return Decision(outcome, now + timedelta(seconds=delay), reason=f"retry {attempt_no + 1} in {delay:.1f}s")


def next_attempt(
    attempt_no: int,
    response_status: int | None,
    retry_after: float | None,
    now: datetime,
    schedule: RetrySchedule = DEFAULT_SCHEDULE,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again; None means stop (dead letter, or nothing to do after a success).

    Use ``decide`` when you also need to know whether to disable the endpoint.
    """
    return decide(attempt_no, response_status, retry_after, now, schedule, rng).next_at


def should_disable_endpoint(
    failing_since: datetime | None, now: datetime, disable_after: timedelta = timedelta(hours=120)
) -> bool:
    """An endpoint that has failed every attempt for ``disable_after`` (Svix: 120 h) is disabled."""
    return failing_since is not None and now - failing_since >= disable_after
