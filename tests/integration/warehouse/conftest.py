"""Fixtures for the warehouse loop: the hub on PostgreSQL, a sandbox WMS (Qimen) per test pushing its
confirmations to the hub's /webhooks/<wms>, and a Taobao shop source whose orders route to it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import select

from connectors.qimen.sandbox import create_app
from connectors.testing import run_sandbox
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.models import RawEvent
from hub.storage.models_vouchers import MovementFinanceInfo
from tests.support.hubserver import HubServer

APP_KEY, APP_SECRET, CUSTOMER = "wms-key", "wms-secret-0123456789", "CUST01"
CHINA = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def wh_hub(pg_settings: Settings) -> Iterator[HubServer]:
    with HubServer(pg_settings.model_copy(update={"reconcile_interval_seconds": 3600})) as server:
        yield server


async def eventually(check: Any, timeout: float = 20) -> Any:
    """Await ``check()`` until it returns True; fail with its last answer."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last is True:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached: {last}")


class Loop:
    """One test's world: hub client, WMS sandbox (its app object and base URL), a Taobao shop source."""

    def __init__(self, hub: httpx.AsyncClient, server: HubServer, wms_app: Any, wms_url: str, wms: str, shop: str):
        self.hub, self.server, self.app, self.wms, self.shop = hub, server, wms_app, wms, shop
        self.sandbox = httpx.AsyncClient(base_url=wms_url, timeout=20)

    @property
    def state(self) -> Any:
        return self.app.state.wms

    async def balances(self, sku: str) -> dict[str, int]:
        stock = (await self.hub.get(f"/api/v1/stock/{sku}")).json()
        return {b["account"]: b["qty"] for b in stock["balances"] if b["qty"]}

    async def wait_balances(self, sku: str, wanted: dict[str, int], timeout: float = 20) -> None:
        async def check() -> Any:
            got = await self.balances(sku)
            return True if all(got.get(k, 0) == v for k, v in wanted.items()) else got

        await eventually(check, timeout)

    async def receive(self, sku: str, qty: int, location: str = "WH01") -> None:
        r = await self.hub.post("/api/v1/movements", json={"movements": [{
            "key": uuid.uuid4().hex, "sku": sku, "qty": qty, "from": "supplier", "to": f"{location}/free",
            "kind": "receive"}]})
        assert r.status_code == 201, r.text

    async def order(self, tid: str, lines: dict[str, int], status: str = "WAIT_SELLER_SEND_GOODS",
                     province: str = "浙江省") -> int:
        now = datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        trade = {"tid": tid, "status": status, "modified": now, "created": now, "receiver_state": province,
                 "orders": {"order": [{"oid": f"{tid}{i}", "outer_sku_id": sku, "num": qty}
                                      for i, (sku, qty) in enumerate(lines.items())]}}
        r = await self.hub.post(f"/api/v1/sources/{self.shop}/events", content=json.dumps(trade, ensure_ascii=False),
                                headers={"x-zhongshu-topic": f"trade/{status}", "x-zhongshu-event-id": f"{tid}:{status}",
                                         "content-type": "application/json"})
        assert r.status_code == 202, r.text
        raw_id = int(r.json()["raw_event_id"])
        await self.wait_raw(raw_id)
        return raw_id

    async def wait_raw(self, raw_id: int) -> dict[str, Any]:
        async def check() -> Any:
            event = (await self.hub.get(f"/api/v1/raw-events/{raw_id}")).json()
            return True if event["status"] != "pending" else event

        await eventually(check)
        return (await self.hub.get(f"/api/v1/raw-events/{raw_id}")).json()

    async def delivery(self, tid: str) -> dict[str, Any]:
        found = (await self.hub.get("/api/v1/warehouse/delivery-orders",
                                    params={"source": self.shop, "order_ref": tid})).json()
        assert len(found) == 1, found
        return found[0]

    async def wait_delivery(self, tid: str, *statuses: str) -> dict[str, Any]:
        async def check() -> Any:
            found = (await self.hub.get("/api/v1/warehouse/delivery-orders",
                                        params={"source": self.shop, "order_ref": tid})).json()
            return True if found and found[0]["status"] in statuses else found

        await eventually(check)
        return await self.delivery(tid)

    async def wms_order(self, code: str) -> dict[str, Any] | None:
        orders = (await self.sandbox.get("/_sandbox/stock")).json()["orders"]
        return next((o for o in orders if o["code"] == code), None)

    async def wait_wms_order(self, code: str, status: str = "ACCEPT") -> dict[str, Any]:
        async def check() -> Any:
            order = await self.wms_order(code)
            return True if order and order["status"] == status else order

        await eventually(check)
        found = await self.wms_order(code)
        assert found is not None
        return found

    async def wms_methods(self) -> list[str]:
        """The Qimen methods the hub called on the WMS, in order (from the sandbox's request log)."""
        requests = (await self.sandbox.get("/_sandbox/log")).json()["requests"]
        return [dict(parse_qsl(r.get("query") or "")).get("method", "") for r in requests]

    async def event(self, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.sandbox.post("/_sandbox/events", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def raw_events(self, source: str, topic: str, *, prefix: bool = False) -> list[RawEvent]:
        engine = make_engine(self.server.settings)
        try:
            async with make_sessionmaker(engine)() as session:
                return list((await session.execute(select(RawEvent).where(
                    RawEvent.source == source,
                    RawEvent.topic.startswith(topic) if prefix else RawEvent.topic == topic).order_by(RawEvent.id))).scalars())
        finally:
            await engine.dispose()

    async def unit_cost(self, movement_key: str) -> str | None:
        engine = make_engine(self.server.settings)
        try:
            async with make_sessionmaker(engine)() as session:
                return await session.scalar(select(MovementFinanceInfo.unit_cost).where(
                    MovementFinanceInfo.movement_key == movement_key))  # fmt: skip
        finally:
            await engine.dispose()

    async def movements(self, sku: str) -> list[dict[str, Any]]:
        body = (await self.hub.get("/api/v1/movements", params={"sku": sku, "limit": 500})).json()
        return list(body["movements"] if isinstance(body, dict) else body)


@pytest.fixture
def wms_knobs() -> dict[str, Any]:
    """Override per test (``@pytest.mark.parametrize`` or a local fixture) to start the WMS differently."""
    return {}


@pytest.fixture
async def loop(wh_hub: HubServer, wms_knobs: dict[str, Any]) -> AsyncIterator[Loop]:
    wms, shop = f"wms_{uuid.uuid4().hex[:8]}", f"taobao_{uuid.uuid4().hex[:8]}"
    knobs = {"confirm_delay_s": None, **wms_knobs}
    initial = knobs.pop("initial_stock", [])
    thresholds = knobs.pop("thresholds", None)
    app = create_app(app_key=APP_KEY, app_secret=APP_SECRET, customer_id=CUSTOMER, hub_url=f"{wh_hub.url}/webhooks/{wms}",
                     warehouses=("WH01", "WH02"), initial_stock=initial, **knobs)
    with run_sandbox(app) as url:
        async with httpx.AsyncClient(base_url=wh_hub.url, headers=wh_hub.auth, timeout=30) as hub:
            r = await hub.post("/api/v1/sources", json={
                "name": wms, "platform": "qimen", "base_url": url,
                "settings": {"customer_id": CUSTOMER, "format": "xml", "thresholds": thresholds or []}})
            assert r.status_code == 201, r.text
            r = await hub.put(f"/api/v1/sources/{wms}/credentials",
                              json={"credentials": {"app_key": APP_KEY, "app_secret": APP_SECRET}})
            assert r.status_code in (200, 204), r.text
            routing = {"warehouses": {"WH01": {"wms": wms}, "WH02": {"wms": wms}}, "priority": ["WH01", "WH02"]}
            r = await hub.post("/api/v1/sources", json={"name": shop, "platform": "taobao", "default_location": "WH01",
                                                        "settings": {"routing": routing, "poll": False}})
            assert r.status_code == 201, r.text
            world = Loop(hub, wh_hub, app, url, wms, shop)
            yield world
            await world.sandbox.aclose()
            await hub.patch(f"/api/v1/sources/{shop}", json={"enabled": False})
            await hub.patch(f"/api/v1/sources/{wms}", json={"enabled": False})
