"""A WMS stock count taken while a shipment is between the WMS and the hub (#6, #11).

The WMS ships a delivery order (its stock drops) and its confirmation has not been booked yet: a snapshot
taken then shows fewer units than the hub holds. Settling it as a count difference and then booking the
confirmation took the same units out twice. Now such a snapshot is not applied to the busy sku (the skus
without orders in flight are counted again at once), and the busy one is counted again once the
confirmation is in: the WMS and the hub then agree and nothing is adjusted.
"""

from __future__ import annotations

import uuid
from typing import Any

from hub.storage.engine import make_engine, make_sessionmaker
from hub.warehouse.stock import not_comparable
from tests.integration.warehouse.conftest import Loop, eventually


async def _request_count(loop: Loop, skus: list[str]) -> int:
    """Ask for a count; returns how many snapshots of this WMS existed before it."""
    before = len(await loop.raw_events(loop.wms, "inventory.query"))
    r = await loop.hub.post("/api/v1/warehouse/stock-counts", json={"wms_source": loop.wms, "warehouse": "WH01",
                                                                    "items": skus})  # fmt: skip
    assert r.status_code == 202, r.text
    return before


async def _snapshots_after(loop: Loop, before: int, n: int = 1) -> list[Any]:
    """The first ``n`` snapshots stored after ``before``, once each is processed."""

    async def processed() -> Any:
        events = (await loop.raw_events(loop.wms, "inventory.query"))[before:]
        return True if len(events) >= n and all(e.status != "pending" for e in events[:n]) else [
            (e.id, e.status) for e in events]

    await eventually(processed)
    return (await loop.raw_events(loop.wms, "inventory.query"))[before:before + n]


async def _adjusts(loop: Loop, sku: str) -> list[dict[str, Any]]:
    return [m for m in await loop.movements(sku) if m["kind"] == "adjust"]


async def test_a_snapshot_between_the_wms_shipping_and_the_hub_booking_it_deducts_nothing_twice(
    loop: Loop, sku: str
) -> None:
    quiet = f"{sku}-Q"
    await loop.receive(sku, 10)
    await loop.receive(quiet, 6)
    loop.state.stock.add("WH01", sku, 10)
    loop.state.stock.add("WH01", quiet, 5)  # a real count difference on a sku with nothing in flight
    tid = str(uuid.uuid4().int % 10**15)
    await loop.order(tid, {sku: 2})
    do = await loop.wait_delivery(tid, "accepted")
    hub_url, loop.state.hub_url = loop.state.hub_url, None  # the WMS ships; its confirmation is held back
    await loop.event({"type": "confirm", "orderCode": do["code"]})
    assert loop.state.stock.total("WH01", sku) == 8

    before = await _request_count(loop, [sku, quiet])
    [snapshot] = await _snapshots_after(loop, before)
    assert await loop.balances(sku) == {"supplier": -10, "WH01/free": 8, "WH01/reserved": 2}  # not 6 free
    assert snapshot.status == "processed" and "may have shipped" in (snapshot.error or ""), snapshot.error
    # the quiet sku is counted again at once and its real difference is booked
    await loop.wait_balances(quiet, {"WH01/free": 5, "adjustment": 1})
    assert await _adjusts(loop, sku) == []

    loop.state.hub_url = hub_url  # the confirmation arrives: the hub ships the 2 units, once
    await loop.event({"type": "redeliver", "orderCode": do["code"]})
    await loop.wait_balances(sku, {"WH01/free": 8, "WH01/reserved": 0, "customer": 2})

    async def recounted() -> Any:  # the busy sku's own recount, now comparable, applied with nothing to adjust
        events = [e for e in await loop.raw_events(loop.wms, "inventory.query") if e.id > snapshot.id
                  and e.status == "processed" and not e.error
                  and any(i["itemCode"] == sku for i in (e.payload or {}).get("items", []))]
        return True if events else [(e.id, e.status, e.error) for e in await loop.raw_events(loop.wms, "inventory.query")]

    await eventually(recounted, timeout=30)
    assert await loop.balances(sku) == {"supplier": -10, "WH01/free": 8, "customer": 2}
    assert await _adjusts(loop, sku) == []
    assert loop.state.stock.total("WH01", sku) == 8


async def test_a_snapshot_after_the_confirmation_was_booked_agrees_and_adjusts_nothing(loop: Loop, sku: str) -> None:
    await loop.receive(sku, 10)
    loop.state.stock.add("WH01", sku, 10)
    tid = str(uuid.uuid4().int % 10**15)
    await loop.order(tid, {sku: 3})
    do = await loop.wait_delivery(tid, "accepted")
    await loop.event({"type": "confirm", "orderCode": do["code"]})
    await loop.wait_balances(sku, {"WH01/free": 7, "WH01/reserved": 0, "customer": 3})
    before = await _request_count(loop, [sku])
    [snapshot] = await _snapshots_after(loop, before)
    assert snapshot.status == "processed" and not snapshot.error, snapshot.error  # comparable: arbitrated
    assert await loop.balances(sku) == {"supplier": -10, "WH01/free": 7, "customer": 3}
    assert await _adjusts(loop, sku) == []


async def test_a_movement_booked_after_the_snapshot_was_taken_makes_the_snapshot_stale(loop: Loop, sku: str) -> None:
    """The other half of comparing "as of" the snapshot: a confirmation booked after the WMS answered (the
    ledger mark) is not in the snapshot, so its cell is not comparable either."""
    await loop.receive(sku, 4)
    loop.state.stock.add("WH01", sku, 4)
    tid = str(uuid.uuid4().int % 10**15)
    await loop.order(tid, {sku: 1})
    do = await loop.wait_delivery(tid, "accepted")
    engine = make_engine(loop.server.settings)
    try:
        async with make_sessionmaker(engine)() as session:
            busy = await not_comparable(session, {(sku, "WH01")}, None)
            assert "is accepted" in busy[(sku, "WH01")]
            ship_mark = max(m["id"] for m in await loop.movements(sku))
        await loop.event({"type": "confirm", "orderCode": do["code"]})
        await loop.wait_balances(sku, {"customer": 1})
        async with make_sessionmaker(engine)() as session:
            stale = await not_comparable(session, {(sku, "WH01")}, ship_mark)
            assert "ship movement" in stale[(sku, "WH01")]
            latest = max(m["id"] for m in await loop.movements(sku))
            assert await not_comparable(session, {(sku, "WH01")}, latest) == {}
            assert await not_comparable(session, {(sku, "WH02")}, ship_mark) == {}  # another warehouse: untouched
    finally:
        await engine.dispose()
