"""Console users: create, change, log in, and the bootstrap admin."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import Conflict, InvalidRequest, NotFound
from hub.security.passwords import DUMMY_HASH, WeakPassword, generate_password, hash_password, verify_password
from hub.security.roles import Principal, Role
from hub.settings import Settings
from hub.storage.models import utcnow
from hub.storage.models_security import User

log = logging.getLogger("zhongshu.security")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
ADMIN_PASSWORD_FILE = "admin-password.txt"


def user_dict(u: User) -> dict[str, Any]:
    """What may be shown about a user: never the password hash."""
    return {
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "disabled": u.disabled,
        "created_at": u.created_at.isoformat(),
        "updated_at": u.updated_at.isoformat(),
    }


def principal_of(u: User) -> Principal:
    return Principal(id=f"user:{u.id}", name=u.username, role=Role(u.role), kind="user")


async def _hash(password: str) -> str:
    try:
        return await asyncio.to_thread(hash_password, password)
    except WeakPassword as exc:
        raise InvalidRequest(str(exc), field="password") from None


async def create_user(session: AsyncSession, username: str, password: str, role: Role | str) -> User:
    if not USERNAME.match(username or ""):
        raise InvalidRequest(
            "username: 1-100 letters, digits, . _ @ -, starting with a letter or digit", field="username"
        )
    try:
        role = Role(role)
    except ValueError:
        raise InvalidRequest(f"unknown role {role!r}; one of viewer, operator, admin", field="role") from None
    if (await session.execute(select(User.id).where(User.username == username))).first():
        raise Conflict(f"user {username!r} exists already", field="username")
    row = User(
        username=username,
        password_hash=await _hash(password),
        role=role.value,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def get_user(session: AsyncSession, user_id: int) -> User:
    row = await session.get(User, user_id)
    if row is None:
        raise NotFound(f"no user {user_id}")
    return row


async def user_by_name(session: AsyncSession, username: str) -> User:
    row = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no user {username!r}")
    return row


async def update_user(
    session: AsyncSession,
    row: User,
    *,
    role: Role | str | None = None,
    password: str | None = None,
    disabled: bool | None = None,
) -> User:
    if role is not None:
        try:
            row.role = Role(role).value
        except ValueError:
            raise InvalidRequest(f"unknown role {role!r}; one of viewer, operator, admin", field="role") from None
    if password is not None:
        row.password_hash = await _hash(password)
    if disabled is not None:
        row.disabled = disabled
    row.updated_at = utcnow()
    await session.flush()
    return row


async def login(session: AsyncSession, username: str, password: str) -> Principal | None:
    """The principal when the username and password match an enabled user; otherwise None."""
    row = (await session.execute(select(User).where(User.username == username))).scalar_one_or_none()
    ok = await asyncio.to_thread(verify_password, password, row.password_hash if row else DUMMY_HASH)
    if row is None or not ok or row.disabled:
        return None
    return principal_of(row)


async def ensure_admin(session: AsyncSession, settings: Settings) -> str | None:
    """Create the bootstrap ``admin`` when no enabled admin exists.

    With ``ZHONGSHU_ADMIN_PASSWORD`` set, that password is used and None returned. Unset in embedded mode
    (SQLite), a password is generated, written to ``var/admin-password.txt`` (mode 600) and returned so the
    CLI can print it once. Unset in production, nothing is created (a warning names the setting). The caller
    commits.
    """
    admins = await session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.admin.value, User.disabled.is_(False))
    )
    if admins:
        return None
    existing = (await session.execute(select(User).where(User.username == "admin"))).scalar_one_or_none()
    if settings.admin_password is not None:
        password, generated = settings.admin_password.get_secret_value(), False
    elif settings.is_sqlite:
        password, generated = generate_password(), True
    else:
        log.warning("no admin user exists and ZHONGSHU_ADMIN_PASSWORD is unset: set it and restart to create one")
        return None
    try:
        async with session.begin_nested():
            if existing is not None:
                await update_user(session, existing, role=Role.admin, password=password, disabled=False)
            else:
                await create_user(session, "admin", password, Role.admin)
    except (IntegrityError, Conflict):
        return None  # another process created it first
    if not generated:
        return None
    path = settings.var_dir / ADMIN_PASSWORD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    log.warning("created user 'admin'; its generated password is in %s", path)
    return password
