"""Register the demo sandboxes as hub sources through the hub's own API, idempotently: a second
``zhongshu up`` on the same database updates what is there instead of failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

from hub.demo import catalog
from hub.demo.catalog import Demo

__all__ = ["RegistrationError", "register_all", "seed_stock", "wait_healthy"]


class RegistrationError(RuntimeError):
    """The hub refused a registration call; the message names the call and the hub's answer."""


def _check(r: httpx.Response, what: str, ok: tuple[int, ...] = (200, 201)) -> Any:
    if r.status_code not in ok:
        raise RegistrationError(f"{what}: HTTP {r.status_code} {r.text[:300]}")
    return r.json() if r.content else None


async def wait_healthy(url: str, *, timeout: float = 60.0, alive: Any = None) -> None:
    """Wait until ``GET {url}/health`` answers 200; ``alive()`` false means the hub died (give up at once)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if alive is not None and not alive():
                raise RegistrationError("the hub process exited while starting (its error is above)")
            try:
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RegistrationError(f"the hub at {url} did not become healthy within {timeout:.0f} s")


async def _sandbox_stock(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as sb:
        body = (await sb.get("/_sandbox/stock")).json()
    stock = body.get("stock", {}) if isinstance(body, dict) else {}
    return stock if isinstance(stock, dict) else {}


async def register_source(api: httpx.AsyncClient, demo: Demo, sandbox_url: str, hub_url: str) -> None:
    stock = await _sandbox_stock(sandbox_url) if demo.source == "shopify" else None
    settings = catalog.source_settings(demo, hub_url, stock)
    base_url = sandbox_url + demo.base_path
    r = await api.post("/api/v1/sources", json={"name": demo.source, "platform": demo.platform,
                                                 "default_location": demo.default_location, "base_url": base_url,
                                                 "settings": settings})  # fmt: skip
    if r.status_code != 201:
        if "exists already" not in r.text:
            _check(r, f"register source {demo.source}")
        _check(await api.patch(f"/api/v1/sources/{demo.source}", json={
            "enabled": True, "base_url": base_url, "settings": settings,
            "default_location": demo.default_location}), f"update source {demo.source}")  # fmt: skip
    _check(await api.put(f"/api/v1/sources/{demo.source}/credentials", json={"credentials": dict(demo.credentials)}),
           f"credentials of {demo.source}")  # fmt: skip


async def list_skus(api: httpx.AsyncClient, demo: Demo, sandbox_url: str) -> None:
    stock = await _sandbox_stock(sandbox_url)
    for sku in catalog.SKUS:
        _check(await api.put(f"/api/v1/sources/{demo.source}/listings/{sku}",
                             json=catalog.listing(demo, sku, stock)), f"listing {demo.source}/{sku}")  # fmt: skip


async def register_all(api: httpx.AsyncClient, urls: Mapping[str, str], hub_url: str) -> None:
    """Every demo source with its credentials (listings come after the first stock figures: see seed_stock)."""
    await asyncio.gather(*(register_source(api, catalog.by_source(s), u, hub_url) for s, u in urls.items()))


async def seed_stock(api: httpx.AsyncClient, snapshot: Any, urls: Mapping[str, str], *, timeout: float = 30.0) -> None:
    """Book the opening stock (a costed receipt, idempotent by key), post the WMS's first inventory snapshot,
    wait until the ledger holds stock, then list the SKUs in the
    shops, so the hub's first sync shows each shop its share of real stock."""
    for sku, qty in catalog.STOCK.items():  # opening stock: a purchase receipt with its cost, as finance knows it
        key = f"demo:opening:{catalog.WAREHOUSE}:{sku}"
        cost = {"movement_key": key, "unit_cost": catalog.UNIT_COST[sku]}
        _check(await api.post("/api/v1/vouchers/unit-costs", json=cost), f"unit cost of {sku}")
        _check(await api.post("/api/v1/movements", json={"movements": [
            {"key": key, "sku": sku, "qty": qty, "from": "supplier", "to": f"{catalog.WAREHOUSE}/free",
             "kind": "receive"}]}), f"opening stock of {sku}", ok=(200, 201, 409))  # fmt: skip
    await snapshot()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await api.get(f"/api/v1/stock/{catalog.SKUS[0]}")
        if r.status_code == 200 and any(b["account"] == f"{catalog.WAREHOUSE}/free" and b["qty"] > 0
                                        for b in r.json().get("balances", [])):  # fmt: skip
            break
        await asyncio.sleep(0.2)
    for source in catalog.SHOPS:
        if source in urls:
            await list_skus(api, catalog.by_source(source), urls[source])
    # fresh sandboxes show 0 while a reused database remembers what it pushed before: read them back now
    _check(await api.post("/api/v1/sync/reconcile"), "reconcile the shops", ok=(200, 202))
