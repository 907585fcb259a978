"""Gentle demo traffic: one event every few seconds, made by the sandboxes themselves (so it reaches the
hub through each platform's own signed push, message queue or poll), plus a periodic WMS inventory snapshot.
Loopback only: every URL here is a sandbox or the hub on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.base import InstanceConfig
from hub.aio import wait_event
from hub.demo import catalog
from hub.demo.catalog import Event

__all__ = ["Traffic", "wms_snapshot"]

MAX_OPEN_ORDERS = 40


async def wms_snapshot(api: httpx.AsyncClient, wms_url: str) -> dict[str, Any]:
    """Read the WMS's inventory (Qimen ``inventory.query``, signed) and hand the answer to the hub as the
    ``wms`` source's raw event, exactly as an ERP-side inventory sync would."""
    from connectors.qimen import QimenConnector

    demo = catalog.by_source("wms")
    wms = QimenConnector(InstanceConfig(name="wms", platform="qimen", base_url=wms_url,
                                        credentials=dict(demo.credentials), settings=dict(demo.settings)))  # fmt: skip
    try:
        rows = await wms.inventory_snapshot(catalog.WAREHOUSE)
    finally:
        await wms.aclose()
    payload = {"flag": "success", "code": "0", "message": "ok", "items": {"item": [
        {"warehouseCode": r.warehouse_code, "itemCode": r.item_code, "inventoryType": r.inventory_type,
         "quantity": str(r.quantity), "lockQuantity": str(r.lock_quantity), "batchCode": r.batch_code}
        for r in rows]}}  # fmt: skip
    event_id = f"demo-snapshot-{time.time_ns()}"
    r = await api.post("/api/v1/sources/wms/events", json=payload,
                       headers={"x-zhongshu-topic": "inventory.query", "x-zhongshu-event-id": event_id})
    r.raise_for_status()
    return {"rows": len(rows), "raw_event_id": r.json().get("raw_event_id")}


class Traffic:
    """``await Traffic(api, urls, say).run(stop)`` until ``stop`` is set."""

    def __init__(self, api: httpx.AsyncClient, urls: Mapping[str, str], say: Callable[[str], None], *,
                 interval: tuple[float, float] = (1.0, 3.0), snapshot_every: float = 30.0,
                 seed: int | None = None) -> None:  # fmt: skip
        self.api, self.urls, self.say = api, dict(urls), say
        self.interval, self.snapshot_every = interval, snapshot_every
        self.rng = random.Random(seed)
        self.open_orders: dict[str, list[str]] = {s: [] for s in catalog.SHOPS}
        self.sent = 0
        self.failed = 0

    async def run(self, stop: asyncio.Event) -> None:
        last_snapshot = time.monotonic()
        async with httpx.AsyncClient(timeout=15) as sandboxes:
            while not stop.is_set():
                if "wms" in self.urls and time.monotonic() - last_snapshot >= self.snapshot_every:
                    last_snapshot = time.monotonic()
                    await self._safely(Event("wms", "snapshot", None), wms_snapshot(self.api, self.urls["wms"]))
                else:
                    event = catalog.next_event(self.rng, self.open_orders)
                    if event.source in self.urls:
                        await self._safely(event, self._send(sandboxes, event))
                await wait_event(stop, self.rng.uniform(*self.interval))

    async def _send(self, client: httpx.AsyncClient, event: Event) -> Any:
        r = await client.post(f"{self.urls[event.source]}/_sandbox/events", json=event.body)
        if r.status_code >= 400:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
        answer = r.json()
        if event.kind == "order":
            order_id = catalog.order_id_of(answer)
            if order_id:
                opened = self.open_orders[event.source]
                opened.append(order_id)
                del opened[:-MAX_OPEN_ORDERS]
        elif event.kind == "cancel":
            order_id = str((event.body or {}).get("order_id"))
            if order_id in self.open_orders[event.source]:
                self.open_orders[event.source].remove(order_id)
        return answer

    async def _safely(self, event: Event, call: Any) -> None:
        try:
            await call
        except Exception as exc:  # noqa: BLE001 - demo traffic never stops the demo; the line says what failed
            self.failed += 1
            self.say(f"[yellow]{event.source:<8}[/yellow] {event.describe()}: [red]failed[/red] ({exc})")
            return
        self.sent += 1
        self.say(f"[cyan]{event.source:<8}[/cyan] {event.describe()}")
