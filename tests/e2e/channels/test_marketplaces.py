"""Taobao (TMC consume + confirm, detail fetched), JD (order poll), Douyin (signed push + detail fetched)
and Meituan (declarative, signed form push): an order made in each sandbox becomes a reservation in the
hub with lineage back to the platform's raw message."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from connectors.base import InstanceConfig
from connectors.douyin.signing import push_sign
from connectors.meituan.sandbox import meituan_sig
from connectors.taobao import TaobaoConnector
from connectors.testing import run_sandbox
from tests.e2e.channels.conftest import Channel, raw_ids_upstream, wait_for

KEY, SECRET, TOKEN = "12345678", "e2e-app-secret", "e2e-access-token"


async def _is(value, expected):  # type: ignore[no-untyped-def]
    return (await value) == expected


# -- Taobao ------------------------------------------------------------------------------------------
@pytest.fixture
def taobao(tag: str) -> Iterator[tuple[str, str, dict]]:
    from connectors.taobao.sandbox import create_app

    sku, num_iid, sku_id = f"TB-{tag}", 520000000000 + int(tag[:6], 16), 4200000000000 + int(tag[:6], 16)
    catalogue = [{"num_iid": num_iid, "title": "e2e", "outer_id": f"ITEM-{tag}",
                  "skus": [{"sku_id": sku_id, "outer_id": sku, "quantity": 50}]}]
    app = create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN, catalogue=catalogue, visibility_timeout=1.0)
    with run_sandbox(app) as url:
        yield url, sku, {"num_iid": num_iid, "sku_id": sku_id}


@pytest.mark.platform("taobao")
async def test_taobao_tmc_message_not_confirmed_is_redelivered_and_processed_once(
    channel: Channel, taobao: tuple[str, str, dict]
) -> None:
    url, sku, ids = taobao
    credentials = {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN}
    await channel.register("taobao", base_url=url, credentials=credentials, listings={sku: ids},
                           settings={"poll": False, "poll_streams": ["tmc"]})  # fmt: skip
    await channel.receive(sku, 10)
    async with httpx.AsyncClient(base_url=url) as sb:
        trade = (await sb.post("/_sandbox/events", json={"type": "order", "sku": sku, "qty": 2, "mode": "place"})).json()
        # another consumer takes the messages and dies before confirming them
        crashed = TaobaoConnector(InstanceConfig(name="crashed", platform="taobao", base_url=url, credentials=credentials))
        taken = (await crashed.poll("tmc", None)).events
        await crashed.aclose()
        create = next(e for e in taken if e.topic == "taobao_trade_TradeCreate")
        assert create.payload["content"]["tid"] == trade["tid"]
        pending = {m["id"]: m["deliveries"] for m in (await sb.get("/_sandbox/tmc")).json()["pending"]}
        assert pending[int(create.event_id)] == 1

        await channel.configure(settings={"poll_streams": ["tmc"]})  # the hub starts consuming
        assert await wait_for(lambda: _is(channel.reserved(sku), 2), "the trade reserved")
        tmc = await wait_for(lambda: _confirmed(sb, int(create.event_id)), "the hub's confirm")
    assert int(create.event_id) in tmc["confirmed"]

    rows = await wait_for(channel.settled, "every message processed")
    by_id = {r.platform_event_id: r for r in rows}
    assert [r.platform_event_id for r in rows].count(create.event_id) == 1
    derived = by_id[f"{create.event_id}:detail"]
    assert derived.topic == "taobao.trade.fullinfo.get" and derived.status == "processed"
    assert await channel.reserved(sku) == 2  # the redelivered message reserved nothing twice
    walk = await channel.reservation_lineage(sku)
    assert {f"raw:{derived.id}", f"raw:{by_id[create.event_id].id}"} <= set(raw_ids_upstream(walk))
    # the stock messages (named by outer_sku_id) became Taobao's figure in the cube: 可售 is free stock
    # (48 after the order, or what the hub's own sync set since)
    stock_rows = [r for r in rows if r.topic == "taobao_item_ItemStockChanged"]
    assert stock_rows and all(r.status == "processed" for r in stock_rows)
    cells = await channel.cube(sku)
    assert {(c["stock_type"], c["location"]) for c in cells} == {("free", "channel")}


async def _confirmed(sb: httpx.AsyncClient, message_id: int) -> dict | None:
    tmc = (await sb.get("/_sandbox/tmc")).json()
    return tmc if message_id in tmc["confirmed"] else None


# -- JD ----------------------------------------------------------------------------------------------
@pytest.mark.platform("jd")
async def test_jd_polled_order_becomes_reservation(channel: Channel, tag: str) -> None:
    from connectors.jd.sandbox import create_app

    sku = f"JD-{tag}"
    with run_sandbox(create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN, catalog={sku: 50})) as url:
        async with httpx.AsyncClient(base_url=url) as sb:
            sku_id = (await sb.get("/_sandbox/stock")).json()["stock"][sku]["skuId"]
            await channel.register("jd", base_url=url, listings={sku: {"sku_id": sku_id}},
                                   credentials={"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN})
            await channel.receive(sku, 10)
            order = (await sb.post("/_sandbox/events", json={"type": "order", "sku": sku, "quantity": 3})).json()
            assert await wait_for(lambda: _is(channel.reserved(sku), 3), "the polled order reserved")
            await sb.post("/_sandbox/events", json={"type": "cancel", "order_id": order["order_id"]})
            assert await wait_for(lambda: _is(channel.reserved(sku), 0), "the polled cancel released")
    rows = [r for r in await channel.raw_events() if str(order["order_id"]) in r.platform_event_id]
    assert {r.topic for r in rows} >= {"order.paid", "order.cancelled"}
    assert all(r.status == "processed" for r in rows)
    walk = await channel.reservation_lineage(sku)
    assert f"raw:{next(r.id for r in rows if r.topic == 'order.paid')}" in raw_ids_upstream(walk)
    assert (await channel.totals(sku))[f"{channel.location}/free"] == 10


# -- Douyin ------------------------------------------------------------------------------------------
@pytest.fixture
def douyin(tag: str, channel: Channel) -> Iterator[tuple[str, str]]:
    from connectors.douyin.sandbox import create_app

    sku = f"DY-{tag}"
    app = create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN, hub_url=channel.webhook_url,
                     catalog={sku: 50})
    with run_sandbox(app) as url:
        yield url, sku


@pytest.mark.platform("douyin")
async def test_douyin_push_is_enriched_into_a_reservation_and_bad_pushes_refused(
    channel: Channel, douyin: tuple[str, str], api: httpx.AsyncClient
) -> None:
    url, sku = douyin
    async with httpx.AsyncClient(base_url=url) as sb:
        sku_id = (await sb.get("/_sandbox/stock")).json()["stock"][sku]["sku_id"]
        await channel.register("douyin", base_url=url, listings={sku: {"sku_id": sku_id}}, settings={"poll": False},
                               credentials={"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN})
        await channel.receive(sku, 10)
        order = (await sb.post("/_sandbox/events", json={"type": "order", "sku": sku, "qty": 2})).json()
        assert await wait_for(lambda: _is(channel.reserved(sku), 2), "the pushed order reserved")
        # a product-change push (tag 400) names no figures: the hub reads the sku's stock
        await sb.post("/_sandbox/events", json={"type": "stock", "sku": sku, "qty": 40})
        cells = await wait_for(lambda: channel.cube(sku), "Douyin's stock in the cube")
    assert ("sellable", 40) in {(c["stock_type"], c["quantity"]) for c in cells}

    def split(rows: list[Any]) -> tuple[list[Any], list[Any]]:
        pushes = [r for r in rows if r.topic in ("order.created", "order.paid") and ":detail" not in r.platform_event_id]
        return pushes, [r for r in rows if r.platform_event_id.endswith(":detail")]

    async def enriched() -> list[Any]:
        """Every push processed and every detail fetch done (a job after the push: it lands a moment later;
        a push naming an order already reserved needs none)."""
        rows = await channel.settled()
        fetching = [j for j in await channel.jobs("orders.enrich") if j.state in ("pending", "running")]
        return rows if split(rows)[1] and not fetching else []

    pushes, details = split(await wait_for(enriched, "every push processed and its detail fetched",
                                           describe=channel.describe))  # fmt: skip
    assert {r.platform_event_id for r in details} <= {f"{r.platform_event_id}:detail" for r in pushes}
    assert all(str(order["order_id"]) in r.body.decode() for r in pushes)
    walk = await channel.reservation_lineage(sku)
    upstream = set(raw_ids_upstream(walk))
    state = f"upstream {sorted(upstream)}\n{await channel.describe()}"
    assert any(f"raw:{r.id}" in upstream for r in details) and any(f"raw:{r.id}" in upstream for r in pushes), state

    body = (b'[{"tag":"100","msg_id":"7399999999999999999","data":"{\\"p_id\\":6920000000009999999,'
            b'\\"s_ids\\":[6920000000009999998],\\"shop_id\\":4463798,\\"order_status\\":1}"}]')
    good = push_sign(KEY, SECRET, body)
    tampered = await api.post(channel.webhook_url, content=body.replace(b"100", b"106", 1),
                              headers={"app-id": KEY, "event-sign": good, "content-type": "application/json"})
    unsigned = await api.post(channel.webhook_url, content=body, headers={"app-id": KEY, "content-type": "application/json"})
    malformed = await api.post(channel.webhook_url, content=b"[{", headers={
        "app-id": KEY, "event-sign": push_sign(KEY, SECRET, b"[{"), "content-type": "application/json"})
    for r in (tampered, unsigned, malformed):
        assert r.status_code in (400, 401, 403) and r.json().get("code") != 0, r.text
    refused = [r for r in await channel.raw_events() if r.status == "refused"]
    assert len(refused) == 3 and all(not r.verified for r in refused)
    assert await channel.reserved(sku) == 2


# -- Meituan (declarative) ---------------------------------------------------------------------------
@pytest.mark.platform("meituan")
async def test_meituan_signed_push_becomes_reservation_and_stale_push_is_refused(
    channel: Channel, tag: str, api: httpx.AsyncClient
) -> None:
    from connectors.meituan.sandbox import create_app

    sku, poi = f"MT-{tag}", f"POI-{tag}"
    channel.location = poi  # Meituan orders name their store: the store is where the units are held
    app = create_app(app_key=KEY, app_secret=SECRET, hub_url=channel.webhook_url, app_poi_code=poi, skus={sku: 50})
    with run_sandbox(app) as url:
        await channel.register("meituan", base_url=url, credentials={"app_id": KEY, "app_secret": SECRET},
                               settings={"app_poi_code": poi, "push_url": channel.webhook_url, "poll": False},
                               listings={sku: {"app_food_code": sku, "sku_id": sku}})  # fmt: skip
        await channel.receive(sku, 10)
        async with httpx.AsyncClient(base_url=url) as sb:
            made = (await sb.post("/_sandbox/events", json={"type": "order", "sku": sku, "quantity": 2})).json()
        assert [p["status"] for p in made["pushes"]] == [200, 200], made["pushes"]
        assert await wait_for(lambda: _is(channel.reserved(sku), 2), "the pushed order reserved")
        cells = await wait_for(lambda: channel.cube(sku), "Meituan's stock push in the cube")
    assert {c["stock_type"] for c in cells} >= {"reserved"}
    rows = await wait_for(channel.settled, "every push processed")
    order_rows = {f"raw:{r.id}": r for r in rows if r.topic == "order.create"}
    upstream = [i for i in raw_ids_upstream(await channel.reservation_lineage(sku)) if i in order_rows]
    assert upstream and all(str(made["order"]["order_id"]) in order_rows[i].body.decode() for i in upstream)

    form = {"order_id": "1", "app_poi_code": poi, "status": "1", "ctime": "1", "utime": "1",
            "detail": f'[{{"app_food_code":"{sku}","sku_id":"{sku}","quantity":5}}]', "app_id": KEY,
            "timestamp": str(int(time.time()) - 3600)}
    form["sig"] = meituan_sig(channel.webhook_url, form.items(), SECRET)
    stale = await api.post(channel.webhook_url, content=urlencode(form).encode(),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert stale.status_code == 401 and stale.json()["data"] == "ng", stale.text
    assert [r.status for r in await channel.raw_events()].count("refused") == 1
    assert await channel.reserved(sku) == 2
