"""Marketplace order → routed reservation → Qimen delivery order in the sandbox WMS → confirmation → shipped,
and the ways a confirmation can go wrong: short, cancelled in flight, duplicated, ahead of its own create."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.warehouse.conftest import Loop, eventually


def _tid() -> str:
    return str(uuid.uuid4().int % 10**15)


async def test_an_order_is_routed_sent_to_the_wms_confirmed_and_shipped(loop: Loop, sku: str) -> None:
    # WH01 (first in priority) cannot ship 2: the order goes to WH02, which can
    await loop.receive(sku, 1, "WH01")
    await loop.receive(sku, 10, "WH02")
    loop.state.stock.add("WH02", sku, 10)
    tid = _tid()
    await loop.order(tid, {sku: 2})
    await loop.wait_balances(sku, {"WH02/free": 8, "WH02/reserved": 2, "WH01/free": 1})
    do = await loop.wait_delivery(tid, "accepted")
    assert do["warehouse"] == "WH02" and do["wms_order_id"].startswith("WD")
    wms_order = await loop.wait_wms_order(do["code"])
    assert wms_order["warehouseCode"] == "WH02" and wms_order["lines"][0]["planQty"] == 2
    await loop.event({"type": "confirm", "orderCode": do["code"]})
    await loop.wait_balances(sku, {"WH02/free": 8, "WH02/reserved": 0, "customer": 2})
    do = await loop.wait_delivery(tid, "shipped")
    assert do["express_code"] and do["lines"][0]["shipped"] == 2
    # the marketplace then says shipped too: the WMS confirmation already shipped it, nothing moves twice
    raw = await loop.order(tid, {sku: 2}, status="WAIT_BUYER_CONFIRM_GOODS")
    assert (await loop.wait_raw(raw))["status"] == "processed"
    assert (await loop.balances(sku)).get("customer") == 2
    ships = [m for m in await loop.movements(sku) if m["kind"] == "ship"]
    assert len(ships) == 1
    walk = (await loop.hub.get(f"/api/v1/lineage/movement:{ships[0]['id']}")).json()
    assert any(n["id"] == f"delivery:{do['code']}" for n in walk["upstream"])


async def test_a_short_shipment_ships_what_left_and_releases_the_rest(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 10)
    loop.state.stock.add("WH01", sku, 10)
    tid = _tid()
    await loop.order(tid, {sku: 3})
    do = await loop.wait_delivery(tid, "accepted")
    await loop.event({"type": "short_ship", "orderCode": do["code"], "lines": {sku: 1}})
    await loop.event({"type": "confirm", "orderCode": do["code"]})
    await loop.wait_balances(sku, {"WH01/free": 9, "WH01/reserved": 0, "customer": 1})
    do = await loop.wait_delivery(tid, "short_shipped")
    assert do["lines"][0] | {"fefo": []} == do["lines"][0] | {"shipped": 1, "released": 2, "open": 0, "fefo": []}


async def test_a_cancel_before_shipment_releases_and_cancels_at_the_wms(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 5)
    loop.state.stock.add("WH01", sku, 5)
    tid = _tid()
    await loop.order(tid, {sku: 2})
    do = await loop.wait_delivery(tid, "accepted")
    await loop.order(tid, {sku: 2}, status="TRADE_CLOSED")
    await loop.wait_balances(sku, {"WH01/free": 5, "WH01/reserved": 0})
    await loop.wait_delivery(tid, "cancelled")
    assert (await loop.wait_wms_order(do["code"], "CANCELED"))["lines"][0]["locked"] == 0
    assert "customer" not in await loop.balances(sku)


async def test_a_cancel_the_wms_refuses_because_it_shipped_lets_the_shipment_win(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 5)
    loop.state.stock.add("WH01", sku, 5)
    tid = _tid()
    await loop.order(tid, {sku: 2})
    do = await loop.wait_delivery(tid, "accepted")
    wms = loop.state
    hub_url, wms.hub_url = wms.hub_url, None  # the WMS ships, but its confirmation is not through yet
    await loop.event({"type": "confirm", "orderCode": do["code"]})
    await loop.order(tid, {sku: 2}, status="TRADE_CLOSED")  # the buyer cancels meanwhile
    await loop.wait_balances(sku, {"WH01/free": 5, "WH01/reserved": 0})
    refused = await loop.wait_delivery(tid, "cancel_refused")
    assert "already shipped" in (refused["last_error"] or "")
    wms.hub_url = hub_url
    await loop.event({"type": "redeliver", "orderCode": do["code"]})
    await loop.wait_balances(sku, {"WH01/free": 3, "WH01/reserved": 0, "customer": 2})
    assert (await loop.wait_delivery(tid, "shipped"))["lines"][0]["shipped_from_free"] == 2


@pytest.mark.parametrize("wms_knobs", [{"duplicate_confirms": 2, "split_shipments": 2}])
async def test_duplicated_partial_confirmations_ship_each_unit_once(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 10)
    loop.state.stock.add("WH01", sku, 10)
    tid = _tid()
    await loop.order(tid, {sku: 4})
    do = await loop.wait_delivery(tid, "accepted")
    result = await loop.event({"type": "confirm", "orderCode": do["code"]})
    assert len(result["pushes"]) == 4  # two partial confirmations, each sent twice
    await loop.wait_balances(sku, {"WH01/free": 6, "WH01/reserved": 0, "customer": 4})
    await loop.event({"type": "redeliver", "orderCode": do["code"]})  # and once more for good measure
    do = await loop.wait_delivery(tid, "shipped")
    assert do["lines"][0]["shipped"] == 4 and do["lines"][0]["released"] == 0
    assert (await loop.balances(sku)).get("customer") == 4
    assert sum(m["qty"] for m in await loop.movements(sku) if m["kind"] == "ship") == 4


@pytest.mark.parametrize("wms_knobs", [{"out_of_order": True, "split_shipments": 2}])
async def test_confirmations_ahead_of_the_create_answer_and_in_reverse_leave_the_ledger_right(
    loop: Loop, sku: str
) -> None:
    await loop.receive(sku, 10)
    loop.state.stock.add("WH01", sku, 10)
    tid = _tid()
    await loop.order(tid, {sku: 4})  # the WMS ships and confirms (final first) before answering the create
    await loop.wait_balances(sku, {"WH01/free": 6, "WH01/reserved": 0, "customer": 4})
    do = await loop.wait_delivery(tid, "shipped")
    assert do["wms_order_id"] and do["lines"][0]["shipped"] == 4

    async def settled() -> Any:
        got = await loop.balances(sku)
        return True if got.get("customer") == 4 and got.get("WH01/free") == 6 else got

    await eventually(settled)


@pytest.mark.parametrize("wms_knobs", [{"thresholds": [{"sku": "SKU-*", "warehouse": "WH01", "low": 5}]}])
async def test_free_stock_crossing_below_a_threshold_raises_a_low_stock_alert(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 6)
    loop.state.stock.add("WH01", sku, 6)
    await loop.order(_tid(), {sku: 2})
    await loop.wait_balances(sku, {"WH01/free": 4})
    alerts = (await loop.hub.get("/api/v1/alerts", params={"sku": sku})).json()
    assert [(a["level"], a["free"], a["status"]) for a in alerts] == [("low", 4, "open")]
    assert alerts[0]["event_lineage_id"]
    await loop.receive(sku, 3)
    await eventually(lambda: _alert_status(loop, sku, "cleared"))


async def _alert_status(loop: Loop, sku: str, status: str) -> Any:
    alerts = (await loop.hub.get("/api/v1/alerts", params={"sku": sku})).json()
    return True if alerts and alerts[0]["status"] == status else alerts
