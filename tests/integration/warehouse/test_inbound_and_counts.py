"""Receipts (purchase with a short receipt, a transfer in transit then received), returns restocking into
free and damaged, WMS stock counts through arbitration, stock-change reports, batches with expiry."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.warehouse.conftest import Loop, eventually


async def _inbound(loop: Loop, path: str, code: str, *statuses: str) -> dict[str, Any]:
    async def check() -> Any:
        found = (await loop.hub.get(f"/api/v1/warehouse/{path}", params={"code": code})).json()
        return True if found and found[0]["status"] in statuses else found

    await eventually(check)
    return dict((await loop.hub.get(f"/api/v1/warehouse/{path}", params={"code": code})).json()[0])


async def test_a_purchase_receipt_books_what_arrived_short_and_inspected(loop: Loop, sku: str) -> None:
    held = f"{sku}-QC"
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "purchase", "warehouse": "WH01", "wms_source": loop.wms, "purchase_order": "PO-1",
        "lines": [{"sku": sku, "qty": 10, "unit_cost": "12.50"}, {"sku": held, "qty": 5, "inspect": True}]})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert [ln["unit_cost"] for ln in r.json()["lines"]] == ["12.50", None]
    await loop.wait_wms_order(code)
    await loop.event({"type": "receipt", "orderCode": code, "lines": [
        {"itemCode": sku, "actualQty": 8}, {"itemCode": held, "actualQty": 5}]})
    await loop.event({"type": "confirm", "orderCode": code})
    await loop.wait_balances(sku, {"WH01/free": 8, "supplier": -8})
    await loop.wait_balances(held, {"WH01/quality_hold": 5})
    assert "WH01/free" not in await loop.balances(held)
    order = await _inbound(loop, "entry-orders", code, "short_received")
    assert [(ln["planned"], ln["received"]) for ln in order["lines"]] == [(10, 8), (5, 5)]
    await loop.event({"type": "redeliver", "orderCode": code})  # a repeated confirmation receives nothing twice
    await loop.wait_balances(sku, {"WH01/free": 8})
    # the receipt's voucher is valued at the order's price: its booking carries the unit cost
    [receipt] = [m for m in await loop.movements(sku) if m["kind"] == "receive"]
    assert await loop.unit_cost(receipt["key"]) == "12.50"
    assert await loop.unit_cost(next(m["key"] for m in await loop.movements(held) if m["kind"] == "receive")) is None


async def test_an_entry_order_with_a_bad_unit_cost_is_refused_naming_the_line(loop: Loop, sku: str) -> None:
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "purchase", "warehouse": "WH01", "wms_source": loop.wms,
        "lines": [{"sku": sku, "qty": 1, "unit_cost": "1"}, {"sku": sku + "-B", "qty": 1, "unit_cost": "-3"}]})
    assert r.status_code == 422, r.text
    assert "lines[1].unit_cost" in r.text
    assert all(sku not in str(o["lines"]) for o in (await loop.hub.get("/api/v1/warehouse/entry-orders")).json())


async def test_a_transfer_between_two_wms_warehouses_ships_out_by_dbck_before_it_is_in_transit(
    loop: Loop, sku: str
) -> None:
    """The sending WMS learns of the transfer (stockout.create, DBCK); units stay held at WH01 until it confirms
    them shipped, only what really left goes into transit, and the receiving WMS's entry order takes that."""
    await loop.receive(sku, 10, "WH01")
    loop.state.stock.add("WH01", sku, 10)
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "transfer", "from_warehouse": "WH01", "from_wms_source": loop.wms, "warehouse": "WH02",
        "wms_source": loop.wms, "lines": [{"sku": sku, "qty": 4}]})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert await loop.balances(sku) == {"supplier": -10, "WH01/free": 6, "WH01/reserved": 4}  # held, not gone
    assert r.json()["lines"][0]["in_transit"] == 0
    out = await loop.wait_wms_order(f"{code}-OUT")
    assert out["orderType"] == "DBCK"
    assert "stockout.create" in await loop.wms_methods()
    await loop.event({"type": "short_ship", "orderCode": out["code"], "lines": {sku: 3}})
    await loop.event({"type": "confirm", "orderCode": out["code"]})
    await loop.wait_balances(sku, {"WH01/free": 7, "WH01/reserved": 0, "transit": 3})  # one unit stayed behind
    assert (await _inbound(loop, "entry-orders", code, "accepted"))["lines"][0]["in_transit"] == 3
    assert [m["kind"] for m in await loop.movements(sku)].count("transfer_out") == 1
    await loop.event({"type": "receipt", "orderCode": code, "lines": [{"itemCode": sku, "actualQty": 3}]})
    await loop.event({"type": "confirm", "orderCode": code})
    await loop.wait_balances(sku, {"WH01/free": 7, "WH02/free": 3, "transit": 0})
    # more than WH01 holds cannot be sent: refused before any order reaches a WMS
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "transfer", "from_warehouse": "WH01", "from_wms_source": loop.wms, "warehouse": "WH02",
        "wms_source": loop.wms, "lines": [{"sku": sku, "qty": 8}]})
    assert r.status_code == 409, r.text
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "purchase", "from_wms_source": loop.wms, "warehouse": "WH02", "wms_source": loop.wms,
        "lines": [{"sku": sku, "qty": 1}]})
    assert r.status_code == 422 and "from_wms_source" in r.text
    # a transfer-out the sending WMS refuses (its shelves lack the goods) gives the held units back
    other = f"{sku}-X"
    await loop.receive(other, 2, "WH01")
    await loop.event({"type": "knobs", "refuse_insufficient": True})
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "transfer", "from_warehouse": "WH01", "from_wms_source": loop.wms, "warehouse": "WH02",
        "wms_source": loop.wms, "lines": [{"sku": other, "qty": 2}]})
    assert r.status_code == 201, r.text
    await loop.wait_balances(other, {"WH01/free": 2, "WH01/reserved": 0, "transit": 0})
    [refused] = (await loop.hub.get("/api/v1/warehouse/delivery-orders", params={"code": f"{r.json()['code']}-OUT"})).json()
    assert refused["status"] == "rejected" and refused["last_error"]


async def test_a_transfer_is_in_transit_until_the_receiving_warehouse_confirms(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 10, "WH01")
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "transfer", "from_warehouse": "WH01", "warehouse": "WH02", "wms_source": loop.wms,
        "lines": [{"sku": sku, "qty": 4}]})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert await loop.balances(sku) == {"supplier": -10, "WH01/free": 6, "transit": 4}
    order = await _inbound(loop, "entry-orders", code, "accepted")
    assert order["order_type"] == "DBRK" and order["lines"][0]["in_transit"] == 4
    await loop.event({"type": "confirm", "orderCode": code})
    await loop.wait_balances(sku, {"WH01/free": 6, "WH02/free": 4, "transit": 0})
    assert (await _inbound(loop, "entry-orders", code, "received"))["lines"][0]["in_transit"] == 0
    # more than WH01 holds cannot leave it
    r = await loop.hub.post("/api/v1/warehouse/entry-orders", json={
        "kind": "transfer", "from_warehouse": "WH01", "warehouse": "WH02", "wms_source": loop.wms,
        "lines": [{"sku": sku, "qty": 7}]})
    assert r.status_code == 409, r.text


async def test_a_return_restocks_good_units_into_free_and_damaged_ones_apart(loop: Loop, sku: str) -> None:
    r = await loop.hub.post("/api/v1/warehouse/returns", json={
        "warehouse": "WH01", "wms_source": loop.wms, "source": loop.shop, "order_ref": "T-1",
        "lines": [{"sku": sku, "qty": 3}]})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    await loop.wait_wms_order(code)
    assert "WH01/free" not in await loop.balances(sku)  # expected, not yet back: nothing to sell
    await loop.event({"type": "receipt", "orderCode": code, "lines": [
        {"itemCode": sku, "inventoryType": "ZP", "actualQty": 2}, {"itemCode": sku, "inventoryType": "CC", "actualQty": 1}]})
    await loop.event({"type": "confirm", "orderCode": code})
    await loop.wait_balances(sku, {"WH01/free": 2, "WH01/damaged": 1, "customer": -3})
    assert (await _inbound(loop, "returns", code, "received"))["lines"][0]["by_bucket"] == {"free": 2, "damaged": 1}


async def _count(loop: Loop, sku: str) -> int:
    before = len(await loop.raw_events(loop.wms, "inventory.query"))
    r = await loop.hub.post("/api/v1/warehouse/stock-counts", json={"wms_source": loop.wms, "warehouse": "WH01",
                                                                    "items": [sku]})
    assert r.status_code == 202, r.text

    async def processed() -> Any:
        events = await loop.raw_events(loop.wms, "inventory.query")
        return True if len(events) > before and events[-1].status != "pending" else [e.status for e in events]

    await eventually(processed)
    event = (await loop.raw_events(loop.wms, "inventory.query"))[-1]
    assert event.status == "processed", event.error
    return int(event.id)


@pytest.mark.parametrize("wms_knobs", [{"initial_stock": []}])
async def test_a_snapshot_that_disagrees_adjusts_exactly_once(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 10)
    loop.state.stock.add("WH01", sku, 7, batch_code="B-LATE", expire_date="2099-12-31")
    loop.state.stock.add("WH01", sku, 1, batch_code="B-SOON", expire_date="2000-01-01")
    loop.state.stock.add("WH01", sku, 2, inventory_type="CC")
    await _count(loop, sku)
    await loop.wait_balances(sku, {"WH01/free": 8, "WH01/damaged": 2})
    adjusts = [m for m in await loop.movements(sku) if m["kind"] == "adjust"]
    assert sorted(m["qty"] for m in adjusts) == [2, 2]  # free 10→8, damaged 0→2
    await _count(loop, sku)  # the same figures again: nothing to adjust
    assert len([m for m in await loop.movements(sku) if m["kind"] == "adjust"]) == 2
    assert await loop.balances(sku) == {"supplier": -10, "WH01/free": 8, "WH01/damaged": 2}
    batches = (await loop.hub.get(f"/api/v1/stock/{sku}/batches")).json()["batches"]
    assert {(b["batch_code"], b["quantity"], b["near_expiry"]) for b in batches} == {
        ("B-SOON", 1, True), ("B-LATE", 7, False)}
    # a delivery order now carries the first-expiry-first-out hint
    await loop.order("FEFO" + sku[-8:], {sku: 1})
    do = await loop.wait_delivery("FEFO" + sku[-8:], "accepted")
    assert do["picking_policy"] == "FEFO" and do["lines"][0]["fefo"][0]["batchCode"] == "B-SOON"


async def test_stock_change_reports_adjust_once_and_skip_the_hubs_own_orders(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 10)
    loop.state.stock.add("WH01", sku, 10)
    pushed = await loop.event({"type": "stock_count", "warehouseCode": "WH01", "itemCode": sku, "counted": 7,
                               "orderType": "PD", "report": True})
    assert pushed["delta"] == -3
    await loop.wait_balances(sku, {"WH01/free": 7})
    await loop.event({"type": "stock_change", "warehouseCode": "WH01", "itemCode": sku, "quantity": 2,
                      "inventoryType": "CC", "orderType": "QTRK"})
    await loop.wait_balances(sku, {"WH01/free": 7, "WH01/damaged": 2})
    # a change the WMS reports for an order the hub sent is booked by that order's confirmation, not twice
    tid = "SC" + sku[-8:]
    await loop.order(tid, {sku: 1})
    do = await loop.wait_delivery(tid, "accepted")
    await loop.event({"type": "confirm", "orderCode": do["code"]})
    await loop.wait_balances(sku, {"customer": 1, "WH01/free": 6})
    await loop.event({"type": "stock_change", "warehouseCode": "WH01", "itemCode": sku, "quantity": -1,
                      "orderType": "JYCK", "orderCode": do["code"]})
    events = await loop.raw_events(loop.wms, "stockchange.report")
    await loop.wait_raw(int(events[-1].id))
    assert await loop.balances(sku) == {"supplier": -10, "adjustment": 1, "WH01/free": 6, "WH01/damaged": 2,
                                        "customer": 1}
    assert len([m for m in await loop.movements(sku) if m["kind"] == "adjust"]) == 2
