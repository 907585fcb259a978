"""Server-side console sessions. The cookie carries a random value; the database keeps its SHA-256 and expiry,
so logging out or disabling a user ends the session at once (nothing to trust in the cookie itself)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.security.roles import Principal
from hub.security.tokens import digest
from hub.storage.models import utcnow
from hub.storage.models_security import ConsoleSession, User

SESSION_COOKIE = "zhongshu_session"
DEFAULT_TTL = 12 * 3600.0


def cookie_options(ttl_seconds: float = DEFAULT_TTL, *, secure: bool = False) -> dict[str, object]:
    """Keyword arguments for ``Response.set_cookie``: httponly, SameSite=Lax, path /, max-age = ttl."""
    return {
        "key": SESSION_COOKIE,
        "httponly": True,
        "samesite": "lax",
        "path": "/",
        "max_age": int(ttl_seconds),
        "secure": secure,
    }


def _user_id(principal: Principal) -> int:
    kind, _, ref = principal.id.partition(":")
    if kind != "user" or not ref.isdigit():
        raise ValueError(f"console sessions are for users, not {principal.id!r}")
    return int(ref)


async def create_session(session: AsyncSession, principal: Principal, *, ttl_seconds: float = DEFAULT_TTL) -> str:
    """Start a console session for a logged-in user; returns the cookie value (set it with :func:`cookie_options`)."""
    value = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        ConsoleSession(
            id=digest(value),
            user_id=_user_id(principal),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    await session.flush()
    return value


async def end_session(session: AsyncSession, cookie_value: str | None) -> None:
    """Log out: the session stops working at once. Unknown values are ignored."""
    if cookie_value:
        await session.execute(
            update(ConsoleSession).where(ConsoleSession.id == digest(cookie_value)).values(ended_at=utcnow())
        )


async def end_user_sessions(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


async def resolve_session(session: AsyncSession, cookie_value: str) -> Principal | None:
    """The user of a live session (not ended, not expired, user enabled), else None."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    row = (
        await session.execute(
            select(ConsoleSession, User)
            .join(User, User.id == ConsoleSession.user_id)
            .where(ConsoleSession.id == digest(cookie_value))
        )
    ).first()
    if row is None:
        return None
    sess, user = row
    if sess.ended_at is not None or sess.expires_at <= utcnow() or user.disabled:
        return None
    from hub.security.users import principal_of

    return principal_of(user)


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < utcnow()))
    return int(result.rowcount or 0)
