"""Carrier tracking (Kuaidi100 sandbox pushes) attaches to the shipment; a parcel coming back becomes the
expected inbound at the warehouse that shipped it, and restocks only when the WMS confirms it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from connectors.testing import run_sandbox
from connectors.tms.sandbox import create_app
from connectors.tms.sandbox.app import Shipment
from connectors.tms.signing import push_sign
from connectors.tms.tracking import STATE_CODES
from tests.integration.warehouse.conftest import Loop, eventually

KEY, SALT = "kd100-key", "kd100-salt"



async def _register(loop: Loop, tms: str, url: str) -> None:
    r = await loop.hub.post("/api/v1/sources", json={"name": tms, "platform": "tms", "base_url": url})
    assert r.status_code == 201, r.text
    r = await loop.hub.put(f"/api/v1/sources/{tms}/credentials",
                           json={"credentials": {"key": KEY, "customer": "CUSTOMER01", "salt": SALT}})
    assert r.status_code in (200, 204), r.text

async def test_a_returned_parcel_creates_the_return_order_and_restocks_on_its_confirmation(loop: Loop, sku: str) -> None:
    tms = f"tms_{uuid.uuid4().hex[:8]}"
    app = create_app(app_key=KEY, salt=SALT, hub_url=f"{loop.server.url}/webhooks/{tms}")
    with run_sandbox(app) as url:
        await _register(loop, tms, url)
        await loop.receive(sku, 5)
        loop.state.stock.add("WH01", sku, 5)
        tid = "TMS" + sku[-8:]
        await loop.order(tid, {sku: 2})
        do = await loop.wait_delivery(tid, "accepted")
        await loop.event({"type": "confirm", "orderCode": do["code"]})
        do = await loop.wait_delivery(tid, "shipped")
        async with httpx.AsyncClient(base_url=url, timeout=20) as carrier:
            start = datetime.now(timezone(timedelta(hours=8)))
            for minutes, state in ((0, "picked_up"), (1, "in_transit"), (2, "returning")):
                stamp = (start + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
                r = await carrier.post("/_sandbox/events", json={"type": "track", "number": do["express_code"],
                                                                 "company": "shunfeng", "state": state, "time": stamp})
                assert r.status_code == 200, r.text

        async def returning() -> Any:
            got = await loop.delivery(tid)
            return True if got["tracking_state"] == "returning" else got["tracking_state"]

        await eventually(returning)
        walk = (await loop.hub.get(f"/api/v1/lineage/delivery:{do['code']}",
                                   params={"direction": "down"})).json()
        assert "tracking" in str(walk)
        code = f"RT-{do['code']}"

        async def expected() -> Any:
            found = (await loop.hub.get("/api/v1/warehouse/returns", params={"code": code})).json()
            return True if found and found[0]["status"] == "accepted" else found

        await eventually(expected)
        assert (await loop.balances(sku)).get("WH01/free") == 3  # expected back, not yet on sale
        await loop.event({"type": "confirm", "orderCode": code})
        await loop.wait_balances(sku, {"WH01/free": 5, "customer": 0})
        await loop.hub.patch(f"/api/v1/sources/{tms}", json={"enabled": False})



async def test_pushes_arriving_out_of_order_leave_the_parcel_in_the_state_of_its_latest_scan(loop: Loop, sku: str) -> None:
    """Kuaidi100 pushes the whole track each time; the network (or parallel workers) may reorder them."""
    tms = f"tms_{uuid.uuid4().hex[:8]}"
    await _register(loop, tms, "http://127.0.0.1:9")  # pushes are posted here directly: no carrier to call
    await loop.receive(sku, 3)
    loop.state.stock.add("WH01", sku, 3)
    tid = "TMO" + sku[-8:]
    await loop.order(tid, {sku: 1})
    do = await loop.wait_delivery(tid, "accepted")
    await loop.event({"type": "confirm", "orderCode": do["code"]})
    do = await loop.wait_delivery(tid, "shipped")
    shipment = Shipment(do["express_code"], "shunfeng")
    start = datetime.now(timezone(timedelta(hours=8)))
    pushes = []
    for minutes, state in ((0, "picked_up"), (1, "in_transit"), (2, "delivered")):
        when = (start + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
        shipment.nodes.insert(0, {"time": when, "ftime": when, "context": state, "status": "", "areaCode": "",
                                  "areaName": ""})
        shipment.state = STATE_CODES[state]
        param = json.dumps({"status": "polling", "message": "", "lastResult": shipment.result()}, ensure_ascii=False)
        pushes.append({"param": param, "sign": push_sign(param, SALT)})
    for form in reversed(pushes):  # newest first
        r = await loop.hub.post(f"/webhooks/{tms}", data=form)
        assert r.status_code == 200, r.text

    async def all_booked() -> Any:
        events = await loop.raw_events(tms, "tracking/", prefix=True)
        statuses = [(await loop.wait_raw(e.id))["status"] for e in events]
        return True if statuses == ["processed"] * 3 else statuses

    await eventually(all_booked)
    assert (await loop.delivery(tid))["tracking_state"] == "delivered"
