"""API tokens for integrations: ``zs_<random>``, shown once, stored as SHA-256, role-scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import InvalidRequest, NotFound
from hub.security.roles import Principal, Role
from hub.storage.models import utcnow
from hub.storage.models_security import ApiToken

TOKEN_PREFIX = "zs_"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # the only time the plaintext exists outside the caller
    info: dict[str, Any]


async def issue_token(
    session: AsyncSession,
    name: str,
    role: Role | str,
    *,
    expires_in: timedelta | None = None,
    created_by: str = "",
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Create a token; the returned plaintext is never stored and cannot be shown again."""
    if not name.strip():
        raise InvalidRequest("token name must not be empty", field="name")
    try:
        role = Role(role)
    except ValueError:
        raise InvalidRequest(f"unknown role {role!r}; one of viewer, operator, admin", field="role") from None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    when = expires_at or (utcnow() + expires_in if expires_in else None)
    row = ApiToken(
        name=name.strip(),
        token_hash=digest(token),
        prefix=token[:9],
        role=role.value,
        created_by=created_by,
        created_at=utcnow(),
        expires_at=when,
    )
    session.add(row)
    await session.flush()
    return IssuedToken(row.id, token, token_dict(row))


async def resolve_token(session: AsyncSession, token: str) -> Principal | None:
    """The principal of a valid (known, unexpired, unrevoked) token, else None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (await session.execute(select(ApiToken).where(ApiToken.token_hash == digest(token)))).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return Principal(id=f"token:{row.id}", name=row.name, role=Role(row.role), kind="token")


async def revoke_token(session: AsyncSession, token_id: int) -> dict[str, Any]:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no API token {token_id}")
    if row.revoked_at is None:
        await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow()))
        await session.refresh(row)
    return token_dict(row)


async def list_tokens(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.execute(select(ApiToken).order_by(ApiToken.id))).scalars().all()
    return [token_dict(r) for r in rows]


def token_dict(row: ApiToken) -> dict[str, Any]:
    """What may be shown about a token: never the token or its hash."""
    now = utcnow()
    state = "revoked" if row.revoked_at else "expired" if row.expires_at and row.expires_at <= now else "active"
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "role": row.role,
        "state": state,
        "created_by": row.created_by,
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
