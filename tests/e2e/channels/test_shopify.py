"""Shopify: signed webhooks (and the orders poll beside them) become reservations; duplicates and a
cancel that overtakes its order leave the ledger right; bad deliveries are refused and recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from connectors.base import hmac_sha256_base64
from connectors.shopify.sandbox import create_app
from connectors.shopify.sandbox._push import webhook_request
from connectors.testing import run_sandbox
from hub.storage.models import RawEvent
from tests.e2e.channels.conftest import Channel, raw_ids_upstream, wait_for

SECRET, TOKEN, SHOP = "shpss_e2e_secret", "shpat_e2e_token", "zhongshu-sandbox.myshopify.com"
pytestmark = pytest.mark.platform("shopify")


@pytest.fixture
def sku(tag: str) -> str:
    return f"SHP-{tag}"


@pytest.fixture
def sandbox(sku: str) -> Iterator[str]:
    with run_sandbox(create_app(app_key="e2e", app_secret=SECRET, access_token=TOKEN, skus={sku: 50})) as url:
        yield url


async def _connect(channel: Channel, sandbox: str, sku: str) -> dict:
    async with httpx.AsyncClient(base_url=sandbox) as sb:
        row = (await sb.get("/_sandbox/stock")).json()["stock"][sku]
        r = await sb.post("/_sandbox/settings", json={"webhook_target": channel.webhook_url})
        assert r.status_code == 200, r.text
    await channel.register("shopify", base_url=sandbox,
                           credentials={"app_key": "e2e", "app_secret": SECRET, "access_token": TOKEN},
                           settings={"shop_domain": SHOP, "location_id": row["location_id"]},
                           listings={sku: {"inventory_item_id": row["inventory_item_id"],
                                           "variant_id": row["variant_id"], "location_id": row["location_id"]}})  # fmt: skip
    return row


async def _deliver(api: httpx.AsyncClient, url: str, topic: str, payload: dict, *, secret: str = SECRET,
                   headers: dict | None = None, body: bytes | None = None) -> httpx.Response:  # fmt: skip
    h, b = webhook_request(topic, payload, secret=secret, shop=SHOP, version="2025-01")
    return await api.post(url, content=body if body is not None else b, headers={**h, **(headers or {})})


async def test_order_becomes_reservation_with_lineage_and_stock_message_an_observation(
    channel: Channel, sandbox: str, sku: str
) -> None:
    row = await _connect(channel, sandbox, sku)
    await channel.receive(sku, 10)
    async with httpx.AsyncClient(base_url=sandbox) as sb:
        made = (await sb.post("/_sandbox/events", json={"type": "order", "sku": sku, "quantity": 2})).json()
    assert all(p["status"] == 200 for p in made["pushes"] if isinstance(p, dict) and "status" in p), made["pushes"]

    assert await wait_for(lambda: _equals(channel.reserved(sku), 2), "2 reserved")
    walk = await channel.reservation_lineage(sku)
    raws = raw_ids_upstream(walk)
    assert raws, walk
    events = {f"raw:{e.id}": e for e in await channel.raw_events()}
    assert events[raws[0]].topic in ("orders/create", "orders/updated")
    assert str(made["order"]["id"]) in events[raws[0]].body.decode()

    # the inventory_levels/update push names only Shopify ids: the listing turns it into our sku
    cells = await wait_for(lambda: channel.cube(sku), "Shopify's level in the cube")
    assert {(c["stock_type"], c["location"]) for c in cells} == {("free", f"shopify_location:{row['location_id']}")}
    # its figure depends on timing (the hub's own sync also sets Shopify's level), so it is not asserted
    totals = await channel.totals(sku)
    assert totals == {f"{channel.location}/free": 8, f"{channel.location}/reserved": 2}


async def test_duplicates_and_cancel_before_create_leave_the_ledger_right(
    channel: Channel, sandbox: str, sku: str, api: httpx.AsyncClient
) -> None:
    await _connect(channel, sandbox, sku)
    await channel.receive(sku, 10)
    async with httpx.AsyncClient(base_url=sandbox) as sb:
        first = (await sb.post("/_sandbox/events", json={"type": "order", "sku": sku, "quantity": 3})).json()["order"]
        await wait_for(lambda: _equals(channel.reserved(sku), 3), "first order reserved")
        # the same webhook delivered twice (one webhook id), then once more as a new delivery
        h, body = webhook_request("orders/create", first, secret=SECRET, shop=SHOP, version="2025-01")
        for _ in range(2):
            assert (await api.post(channel.webhook_url, content=body, headers=h)).status_code == 200
        assert (await _deliver(api, channel.webhook_url, "orders/create", first)).status_code == 200
        # a second order whose cancel reaches the hub before its creation
        await sb.post("/_sandbox/settings", json={"webhook_target": None})
        second = (await sb.post("/_sandbox/events", json={"type": "order", "sku": sku, "quantity": 4})).json()["order"]
        cancelled = (await sb.post("/_sandbox/events", json={"type": "cancel", "order_id": second["id"]})).json()["order"]
    assert (await _deliver(api, channel.webhook_url, "orders/cancelled", cancelled)).status_code == 200
    assert (await _deliver(api, channel.webhook_url, "orders/create", second)).status_code == 200

    rows = await wait_for(channel.settled, "every delivery processed")
    assert sum(1 for r in rows if r.headers.get("x-shopify-webhook-id") == h["X-Shopify-Webhook-Id"]) == 1
    assert all(r.status == "processed" for r in rows), [(r.topic, r.status, r.error) for r in rows]
    totals = await channel.totals(sku)
    assert totals == {f"{channel.location}/free": 7, f"{channel.location}/reserved": 3}


async def test_bad_deliveries_are_refused_recorded_and_never_processed(
    channel: Channel, sandbox: str, sku: str, api: httpx.AsyncClient
) -> None:
    await _connect(channel, sandbox, sku)
    await channel.receive(sku, 10)
    order = {"id": 99000001, "updated_at": "2026-05-01T10:00:00+08:00", "created_at": "2026-05-01T10:00:00+08:00",
             "cancelled_at": None, "line_items": [{"id": 1, "sku": sku, "quantity": 1}]}
    h, body = webhook_request("orders/create", order, secret=SECRET, shop=SHOP, version="2025-01")
    tampered = body.replace(b'"quantity":1', b'"quantity":9')
    stale = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    assert (await api.post(channel.webhook_url, content=tampered, headers=h)).status_code == 401
    assert (await _deliver(api, channel.webhook_url, "orders/create", order,
                           headers={"X-Shopify-Triggered-At": stale})).status_code == 401  # fmt: skip
    assert (await _deliver(api, channel.webhook_url, "orders/create", order, secret="another-secret")).status_code == 401
    bad_json = b'{"id": 1, "line_items": ['
    malformed = await api.post(channel.webhook_url, content=bad_json,
                               headers={**h, "X-Shopify-Hmac-Sha256": hmac_sha256_base64(SECRET, bad_json)})
    assert malformed.status_code == 400
    nosuch = f"shopify_nosuch{channel.name[-8:]}"
    unknown = await api.post(f"{channel.server.url}/webhooks/{nosuch}", content=body, headers=h)
    assert unknown.status_code == 404
    async with channel.sessionmaker() as session:
        kept = (await session.execute(select(RawEvent).where(RawEvent.source == nosuch))).scalars().all()
    assert [(r.status, r.verified) for r in kept] == [("refused", False)] and "no enabled source" in kept[0].verification
    huge = json.dumps({**order, "note": "x" * (1024 * 1024)}).encode()
    too_big = await api.post(channel.webhook_url, content=huge,
                             headers={**h, "X-Shopify-Hmac-Sha256": hmac_sha256_base64(SECRET, huge)})
    assert too_big.status_code == 413

    rows = await channel.raw_events()
    refused = [r for r in rows if r.status == "refused"]
    assert len(refused) == 5, [(r.status, r.topic, r.verification) for r in rows]  # the oversize one too (no body)
    assert {r.body for r in refused} == {tampered, body, bad_json, b""}
    assert any("exceeds" in r.verification for r in refused)
    assert all(not r.verified for r in refused)
    # what else arrived is the sandbox's own stock pushes (the hub syncs its stock to the shop), no order
    assert not [r for r in rows if r.status != "refused" and r.topic.startswith("orders/")]
    assert await channel.totals(sku) == {f"{channel.location}/free": 10}


async def _equals(value, expected):  # type: ignore[no-untyped-def]
    return (await value) == expected
