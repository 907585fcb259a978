"""API tokens for tests, issued straight into the database the hub under test uses."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

from hub.security import Role, issue_token
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker


async def _issue(settings: Settings, role: Role) -> str:
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return (await issue_token(session, f"tests-{role}-{uuid.uuid4().hex[:6]}", role)).token
    finally:
        await engine.dispose()


def token_for(settings: Settings, role: Role | str = Role.admin) -> str:
    """Issue a token (blocking; works from sync code and from inside a running event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _issue(settings, Role(role))).result()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
