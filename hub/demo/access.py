"""The supervisor's own way in: the bootstrap admin (its password in ``var/admin-password.txt``) and an admin
API token kept in ``var/demo-token.txt``, reused across runs while it still works."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from hub.security import Role, ensure_admin, issue_token, resolve_token
from hub.security.users import ADMIN_PASSWORD_FILE
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker

TOKEN_FILE = "demo-token.txt"
TOKEN_NAME = "demo-supervisor"


@dataclass(frozen=True)
class Access:
    token: str
    token_file: Path
    admin_password: str | None
    """The admin's password when known (generated now, read from its file, or set by ZHONGSHU_ADMIN_PASSWORD)."""
    password_source: str
    """Where the password can be read: a file path or the setting's name."""


def write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")


async def prepare_access(settings: Settings) -> Access:
    """Make sure an admin exists and the supervisor holds a valid admin token (the database is migrated)."""
    token_file = settings.var_dir / TOKEN_FILE
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            generated = await ensure_admin(session, settings)
            token = token_file.read_text().strip() if token_file.exists() else ""
            if not token or await resolve_token(session, token) is None or \
                    (await resolve_token(session, token)).role != Role.admin:  # fmt: skip
                token = (await issue_token(session, TOKEN_NAME, Role.admin, expires_in=timedelta(days=30),
                                           created_by="zhongshu up")).token  # fmt: skip
                write_secret(token_file, token)
    finally:
        await engine.dispose()
    password_file = settings.var_dir / ADMIN_PASSWORD_FILE
    if settings.admin_password is not None:
        return Access(token, token_file, settings.admin_password.get_secret_value(), "ZHONGSHU_ADMIN_PASSWORD")
    if generated is None and password_file.exists():
        generated = password_file.read_text().strip() or None
    return Access(token, token_file, generated, str(password_file) if password_file.exists() else "(unknown)")
