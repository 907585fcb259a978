"""Security tests run against the shared hub (``hub_server``: PostgreSQL, no SSRF allow-list)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker


@pytest.fixture
async def pg_db(pg_settings: Settings) -> AsyncIterator[object]:
    engine = make_engine(pg_settings)
    yield make_sessionmaker(engine)
    await engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
