"""Every channel end to end: a platform's real sandbox, the hub on PostgreSQL over HTTP, and the wiring
between them (webhooks at /webhooks/{instance}, polling with cursors, detail fetches), driven only through
the sandboxes' operator endpoints and the hub's API; the database is read only to see raw-event rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select, update

from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.models import Job, RawEvent, Source
from tests.support.hubserver import HubServer

T = TypeVar("T")
WAIT = 20.0


@pytest.fixture(scope="session")
def channel_hub(pg_settings: Settings) -> Iterator[HubServer]:
    """The hub with a short poll interval, so polled channels are read within a fraction of a second."""
    with HubServer(pg_settings.model_copy(update={"poll_interval_seconds": 0.3})) as server:
        yield server


@pytest.fixture
async def api(channel_hub: HubServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=channel_hub.url, headers=channel_hub.auth, timeout=30) as client:
        yield client


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


async def wait_for(probe: Callable[[], Awaitable[T]], what: str, timeout: float = WAIT,
                   describe: Callable[[], Awaitable[str]] | None = None) -> T:  # fmt: skip
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` (and the last value, and
    what ``describe`` says of the state then)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    state = f"\n{await describe()}" if describe is not None else ""
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}{state}")


class Channel:
    """One source instance registered in the hub for a test, disabled again afterwards."""

    def __init__(self, server: HubServer, api: httpx.AsyncClient, name: str, location: str) -> None:
        self.server, self.api, self.name, self.location = server, api, name, location
        self.engine = make_engine(server.settings)  # this test's own: the hub's engine lives on its own loop
        self.sessionmaker = make_sessionmaker(self.engine)

    @property
    def webhook_url(self) -> str:
        return f"{self.server.url}/webhooks/{self.name}"

    async def register(self, platform: str, *, base_url: str, credentials: dict[str, Any],
                       settings: dict[str, Any] | None = None, listings: dict[str, Any] | None = None) -> None:
        # created with its settings: a source created bare would be polled before it is configured, and an
        # order polled then races the pushes this test is about
        r = await self.api.post("/api/v1/sources", json={"name": self.name, "platform": platform,
                                                         "default_location": self.location, "base_url": base_url,
                                                         "settings": settings or {}, "listings": listings or {}})
        assert r.status_code == 201, r.text
        r = await self.api.put(f"/api/v1/sources/{self.name}/credentials", json={"credentials": credentials})
        assert r.status_code == 200, r.text

    async def configure(self, **values: Any) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(update(Source).where(Source.name == self.name).values(**values))

    async def receive(self, sku: str, qty: int) -> None:
        """Stock arrives at the location this source reserves at, so its orders can be reserved."""
        r = await self.api.post("/api/v1/movements", json={"movements": [
            {"key": f"rcv-{self.name}-{sku}", "sku": sku, "qty": qty, "from": "supplier",
             "to": f"{self.location}/free", "kind": "receive"}]})  # fmt: skip
        assert r.status_code == 201, r.text

    async def totals(self, sku: str) -> dict[str, int]:
        r = await self.api.get(f"/api/v1/stock/{sku}")
        assert r.status_code == 200, r.text
        body = r.json()
        return {b["account"]: b["qty"] for b in body["balances"] if b["account"].startswith(f"{self.location}/")}

    async def reserved(self, sku: str) -> int:
        return (await self.totals(sku)).get(f"{self.location}/reserved", 0)

    async def raw_events(self) -> list[RawEvent]:
        async with self.sessionmaker() as session:
            rows = await session.execute(select(RawEvent).where(RawEvent.source == self.name).order_by(RawEvent.id))
            return list(rows.scalars().all())

    async def jobs(self, name: str) -> list[Job]:
        """Jobs ``name`` about this source's raw events, oldest first."""
        raw_ids = {r.id for r in await self.raw_events()}
        async with self.sessionmaker() as session:
            rows = (await session.execute(select(Job).where(Job.name == name).order_by(Job.id))).scalars().all()
        return [j for j in rows if (j.args or {}).get("raw_event_id") in raw_ids]

    async def describe(self) -> str:
        """The source's raw events and detail fetches, for a failure message."""
        raws = [f"raw {r.id} {r.platform_event_id} {r.topic} {r.status} {r.error or ''}" for r in await self.raw_events()]
        jobs = [f"job {j.id} {j.job_key} {j.state} attempts {j.attempts} {j.last_error or ''}"
                for j in await self.jobs("orders.enrich")]  # fmt: skip
        return "\n".join(raws + jobs)

    async def settled(self) -> list[RawEvent]:
        """The source's raw events once none is pending any more (empty while some still are)."""
        rows = await self.raw_events()
        return rows if rows and all(r.status != "pending" for r in rows) else []

    async def reservation_lineage(self, sku: str) -> dict[str, Any]:
        """The lineage walk of the movement that reserved ``sku`` at this source's location."""
        r = await self.api.get("/api/v1/movements", params={"sku": sku})
        assert r.status_code == 200, r.text
        moves = [m for m in r.json()["movements"] if m["to"] == f"{self.location}/reserved"]
        assert moves, f"no reservation movement for {sku}: {r.json()}"
        walk = await self.api.get(f"/api/v1/lineage/{moves[-1]['lineage_id']}")
        assert walk.status_code == 200, walk.text
        return walk.json()  # type: ignore[no-any-return]

    async def cube(self, sku: str) -> list[dict[str, Any]]:
        r = await self.api.get("/api/v1/cube", params={"sku": sku})
        assert r.status_code == 200, r.text
        return [c for c in r.json()["cells"] if c["source"] == self.name]

    async def disable(self) -> None:
        await self.configure(enabled=False)
        await self.engine.dispose()


@pytest.fixture
async def channel(channel_hub: HubServer, api: httpx.AsyncClient, tag: str, request: pytest.FixtureRequest
                  ) -> AsyncIterator[Channel]:  # fmt: skip
    platform = request.node.get_closest_marker("platform")
    kind = platform.args[0] if platform else "shop"
    ch = Channel(channel_hub, api, f"{kind}_e2e{tag}", f"WH-{tag}")
    yield ch
    await ch.disable()


def raw_ids_upstream(walk: dict[str, Any]) -> list[str]:
    return [n["id"] for n in walk["upstream"] if n["kind"] == "raw_event"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "platform(name): the platform a channel test registers its source as")
