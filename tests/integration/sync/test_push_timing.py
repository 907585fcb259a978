"""A push row says when its write began: on PostgreSQL the row is announced before the call, on the embedded
default (SQLite) it is written after the call — with the time the call began, not the time of writing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.shopify.sandbox import create_app
from connectors.testing import run_sandbox
from hub.settings import Settings
from hub.storage.migrate import upgrade
from tests.integration.sync.test_sync_shopify import SECRET, TOKEN, Shop, eventually, receive, register
from tests.support.hubserver import HubServer


@pytest.fixture(params=["postgresql", "sqlite"])
def own_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubServer]:
    """A hub of this test's own, stopped after it: the session's shared SQLite hub would keep retrying pushes to
    this test's closed sandbox and hold the SQLite write lock under the tests that follow."""
    if request.param == "postgresql":
        settings: Settings = request.getfixturevalue("pg_settings")
    else:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'push_timing.db'}", redis_url=None)
        asyncio.run(upgrade(settings))
    with HubServer(settings) as server:
        yield server


async def test_a_push_is_timed_from_the_moment_its_write_began(own_hub: HubServer) -> None:
    hub_server = own_hub
    name = f"shopify_{uuid.uuid4().hex[:6]}"
    sku = f"S-{uuid.uuid4().hex[:8]}"
    app = create_app(app_key="k", app_secret=SECRET, access_token=TOKEN, skus={sku: 0},
                     hub_url=f"{hub_server.url}/webhooks/{name}", rest_bucket=1000)  # fmt: skip
    with run_sandbox(app) as url:
        shop = Shop(url, [sku], name)
        async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as hub:
            await register(hub, shop)
            await receive(hub, sku, 7)

            async def pushed() -> Any:
                rows = (await hub.get("/api/v1/pushes", params={"source": name, "sku": sku})).json()
                return True if rows and rows[0]["status"] == "ok" and rows[0]["target"] == 7 else rows[:1]

            await eventually(pushed)
            push = (await hub.get("/api/v1/pushes", params={"source": name, "sku": sku})).json()[0]
            writes = [e for e in (await shop.http.get("/_sandbox/log")).json()["requests"]
                      if e["path"].endswith("graphql.json") and "mutation" in e["body"]]  # fmt: skip
            await hub.patch(f"/api/v1/sources/{name}", json={"enabled": False})
        await shop.http.aclose()
    started = datetime.fromisoformat(push["started_at"]).timestamp()
    # the write the push row stands for (the shop's last) reached the shop after the row's start (one clock)
    assert writes and started <= float(writes[-1]["at"]) + 0.001, (push, writes)
    assert push["latency_ms"] is not None and push["latency_ms"] >= 0
