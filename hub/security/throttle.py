"""Console log-in throttling: after ``login_max_failures`` wrong passwords for one username within
``login_failure_window_seconds``, that username is locked for ``login_lockout_seconds`` (each further lock-out
of the same run twice as long, up to a day).

The count lives in the database, so every API process sees the same one; it is keyed by the username typed,
whether or not such a user exists, so the answer never tells an attacker which names are real. A lock-out
slows guessing to a handful of tries per lock period without locking the real user out for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.settings import Settings
from hub.storage.models import utcnow
from hub.storage.models_security import LoginFailures

MAX_LOCKOUT = timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    max_failures: int
    window: timedelta
    lockout: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(settings.login_max_failures, timedelta(seconds=settings.login_failure_window_seconds),
                   timedelta(seconds=settings.login_lockout_seconds))  # fmt: skip


@dataclass(frozen=True)
class Failures:
    count: int
    first_at: datetime
    locked_until: datetime | None = None
    lockouts: int = 0


def locked_for(state: Failures | None, now: datetime) -> float:
    """Seconds until the username may try again (0: it may now)."""
    if state is None or state.locked_until is None or state.locked_until <= now:
        return 0.0
    return (state.locked_until - now).total_seconds()


def after_failure(state: Failures | None, now: datetime, policy: Policy) -> Failures:
    """The count after one more wrong password; the run restarts when the window has passed."""
    if state is None or now - state.first_at > policy.window and locked_for(state, now) == 0:
        state = Failures(0, now, None, state.lockouts if state and now - state.first_at <= MAX_LOCKOUT else 0)
    count = state.count + 1
    if count < policy.max_failures:
        return Failures(count, state.first_at, state.locked_until, state.lockouts)
    lock = min(policy.lockout * (2 ** min(state.lockouts, 16)), MAX_LOCKOUT)  # bounded before it multiplies
    return Failures(0, now, now + lock, state.lockouts + 1)


def _key(username: str) -> str:
    return username.strip().lower()[:100]


async def _load(session: AsyncSession, username: str) -> LoginFailures | None:
    stmt = select(LoginFailures).where(LoginFailures.username == _key(username))
    return (await session.execute(stmt.with_for_update())).scalar_one_or_none()


def _state(row: LoginFailures | None) -> Failures | None:
    return None if row is None else Failures(row.failures, row.first_failed_at, row.locked_until, row.lockouts)


async def seconds_locked(session: AsyncSession, username: str) -> float:
    return locked_for(_state(await _load(session, username)), utcnow())


async def record_failure(session: AsyncSession, username: str, policy: Policy) -> float:
    """Count a wrong password (the caller commits); returns the seconds the username is now locked for."""
    now = utcnow()
    row = await _load(session, username)
    state = after_failure(_state(row), now, policy)
    if row is None:
        row = LoginFailures(username=_key(username))
        session.add(row)
    row.failures, row.first_failed_at, row.locked_until, row.lockouts = (state.count, state.first_at,
                                                                         state.locked_until, state.lockouts)  # fmt: skip
    # forget runs long over, so names typed once cannot grow the table without bound
    await session.execute(delete(LoginFailures).where(LoginFailures.first_failed_at < now - MAX_LOCKOUT,
                                                      LoginFailures.username != _key(username)))  # fmt: skip
    return locked_for(state, now)


async def record_success(session: AsyncSession, username: str) -> None:
    await session.execute(delete(LoginFailures).where(LoginFailures.username == _key(username)))


__all__ = ["Failures", "Policy", "after_failure", "locked_for", "record_failure", "record_success", "seconds_locked"]
