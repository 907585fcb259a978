"""Outbound-webhook fixtures: an isolated PostgreSQL database (its job runner must not share jobs with other
hubs under test), a hub with loopback allow-listed and a shortened retry schedule, a real receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.migrate import upgrade
from tests.conftest import PG_DB, _drop_pg_database, _recreate_pg_database, pg_url
from tests.integration.outbound.receiver import Receiver
from tests.support.hubserver import HubServer

OUT_DB = f"{PG_DB}_outbound"


def outbound_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=None,
        webhook_allow=["127.0.0.1", "::1"],
        webhook_retry_delays=[0.05, 0.05, 0.05, 0.05],
        webhook_retry_jitter=0.0,
        webhook_timeout_seconds=5.0,
        inbound_rate_per_second=0.01,
        inbound_burst=3,
    )


@pytest.fixture(scope="session")
def out_settings() -> Iterator[Settings]:
    asyncio.run(_recreate_pg_database(OUT_DB))
    settings = outbound_settings(pg_url(OUT_DB))
    asyncio.run(upgrade(settings))
    yield settings
    asyncio.run(_drop_pg_database(OUT_DB))


@pytest.fixture(scope="session")
def out_server(out_settings: Settings) -> Iterator[HubServer]:
    with HubServer(out_settings) as server:
        yield server


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
async def out_db(out_settings: Settings) -> AsyncIterator[object]:
    """A session factory on the outbound database, for emitting events as the hub's own code does."""
    engine = make_engine(out_settings)
    yield make_sessionmaker(engine)
    await engine.dispose()
