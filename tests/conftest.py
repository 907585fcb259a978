"""Shared fixtures: real PostgreSQL and Redis (``make test`` makes sure they run), SQLite in a temp dir,
and the hub served over real HTTP by uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from hub.settings import Settings
from hub.storage.migrate import upgrade
from tests.support.hubserver import HubServer

PG_ADMIN = os.environ.get("ZHONGSHU_TEST_PG", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("ZHONGSHU_TEST_PG_DB", f"zhongshu_test_{os.getpid()}")
REDIS_URL = os.environ.get("ZHONGSHU_TEST_REDIS", "redis://127.0.0.1:6379/3")


def pg_url(db: str = PG_DB) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{db}"


async def _recreate_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_settings() -> Iterator[Settings]:
    """A fresh, migrated PostgreSQL database for this test session (dropped afterwards)."""
    asyncio.run(_recreate_pg_database(PG_DB))
    settings = Settings(database_url=pg_url(), redis_url=None, reservation_sweep_seconds=0.2)
    asyncio.run(upgrade(settings))
    yield settings
    asyncio.run(_drop_pg_database(PG_DB))


@pytest.fixture(scope="session")
def sqlite_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path: Path = tmp_path_factory.mktemp("sqlite") / "zhongshu.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", redis_url=None, reservation_sweep_seconds=0.2)
    asyncio.run(upgrade(settings))
    return settings


@pytest.fixture(scope="session", params=["postgresql", "sqlite"])
def any_settings(request: pytest.FixtureRequest) -> Settings:
    """Both databases: for the behaviour that must hold on the embedded default too."""
    name = "pg_settings" if request.param == "postgresql" else "sqlite_settings"
    return request.getfixturevalue(name)


@pytest.fixture(scope="session")
def hub_server(pg_settings: Settings) -> Iterator[HubServer]:
    """The hub on PostgreSQL with in-process jobs, served over HTTP."""
    with HubServer(pg_settings) as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_hub_server(sqlite_settings: Settings) -> Iterator[HubServer]:
    with HubServer(sqlite_settings) as server:
        yield server


@pytest.fixture(scope="session", params=["postgresql", "sqlite"])
def any_hub_server(request: pytest.FixtureRequest) -> HubServer:
    return request.getfixturevalue("hub_server" if request.param == "postgresql" else "sqlite_hub_server")


@pytest.fixture
def sku() -> str:
    """A sku no other test uses: tests share one database and isolate by name."""
    return f"SKU-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def hub_client(hub_server: HubServer) -> AsyncIterator[object]:
    import httpx

    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        yield client


@pytest.fixture
def private_pg_settings() -> Iterator[Settings]:
    """A database of its own, for tests whose subject (the job table, say) other hubs would otherwise share."""
    name = f"{PG_DB}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_recreate_pg_database(name))
    settings = Settings(database_url=pg_url(name), redis_url=None)
    asyncio.run(upgrade(settings))
    yield settings
    asyncio.run(_drop_pg_database(name))
