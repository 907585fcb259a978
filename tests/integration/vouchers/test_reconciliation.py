"""Reconciliation names a voucher deleted in the ERP; a receipt without cost blocks, then resumes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx

from hub.bootstrap import Hub
from hub.vouchers.config import EXTRAS_KEY
from tests.integration.vouchers.conftest import (
    CONFIG,
    connect_erps,
    move,
    newest_voucher_id,
    period_now,
    sandbox_vouchers,
    settle,
)


async def test_reconciliation_names_the_voucher_deleted_in_the_erp(hub: Hub, kingdee: str, voucher_api: str) -> None:
    erps = await connect_erps(hub, kingdee=kingdee)
    mark = await newest_voucher_id(hub)
    t, sku = uuid.uuid4().hex[:8], f"SKU-{uuid.uuid4().hex[:8]}"
    await move(hub, f"rcv-{t}", "receive", sku, 5, "supplier", "W1/free", unit_cost="6")
    await move(hub, f"shp-{t}", "ship", sku, 2, "W1/free", "customer")
    receipt, shipment = await settle(hub, after=mark)
    async with httpx.AsyncClient(base_url=voucher_api, timeout=30) as api:
        params = {"period": period_now(), "erp": erps.kingdee}
        clean = (await api.get("/api/v1/vouchers/reconciliation", params=params)).json()
        assert clean["differences"] == [] and clean["balanced"]
        assert clean["totals"]["posted_inventory_change"] == clean["totals"]["erp_inventory_change"] == "18.00"

        gone = (await api.get(f"/api/v1/vouchers/{shipment}")).json()
        posting = gone["postings"][0]
        httpx.delete(f"{kingdee}/_sandbox/vouchers/{posting['erp_id']}").raise_for_status()
        report = (await api.get("/api/v1/vouchers/reconciliation", params=params)).json()
    assert len(sandbox_vouchers(kingdee)) == 1
    assert not report["balanced"]
    (diff,) = report["differences"]
    assert diff["kind"] == "missing_in_erp" and diff["voucher_id"] == shipment and diff["key"] == gone["key"]
    assert (
        gone["key"] in diff["cause"]
        and posting["erp_number"] in diff["cause"]
        and "missing in the ERP" in diff["cause"]
    )
    assert report["totals"]["posted_inventory_change"] == "18.00"
    assert report["totals"]["erp_inventory_change"] == "30.00"  # the ERP never saw the 12.00 shipped
    assert receipt != shipment


async def test_a_receipt_without_cost_blocks_the_scan_until_its_cost_is_recorded(
    hub: Hub, kingdee: str, voucher_api: str
) -> None:
    await connect_erps(hub, kingdee=kingdee)
    mark = await newest_voucher_id(hub)
    t, sku = uuid.uuid4().hex[:8], f"SKU-{uuid.uuid4().hex[:8]}"
    blocked_id = await move(hub, f"rcv-{t}", "receive", sku, 3, "supplier", "W1/free")
    await move(hub, f"shp-{t}", "ship", sku, 1, "W1/free", "customer")
    assert await settle(hub, after=mark) == []
    async with httpx.AsyncClient(base_url=voucher_api) as api:
        scan = (await api.get("/api/v1/vouchers")).json()["scan"]
        assert scan["blocked_movement_id"] == blocked_id and f"rcv-{t}" in scan["error"]
        recorded = await api.post("/api/v1/vouchers/unit-costs", json={"movement_key": f"rcv-{t}", "unit_cost": "4.20"})
        assert recorded.status_code == 200
        made = await settle(hub, after=mark)
        assert len(made) == 2
        totals = [(await api.get(f"/api/v1/vouchers/{vid}")).json()["total"] for vid in made]
        assert totals == ["12.60", "4.20"]
        assert (await api.get("/api/v1/vouchers")).json()["scan"]["error"] is None


async def test_summary_mode_posts_one_voucher_per_day_and_template_once_the_day_has_closed(
    hub: Hub, kingdee: str, voucher_api: str
) -> None:
    hub.ctx.extras[EXTRAS_KEY] = CONFIG.with_(mode="summary", summary_grain=("day",))
    await connect_erps(hub, kingdee=kingdee)
    mark = await newest_voucher_id(hub)
    t, sku = uuid.uuid4().hex[:8], f"SKU-{uuid.uuid4().hex[:8]}"
    ids = [
        await move(hub, f"rcv{i}-{t}", "receive", sku, 2, "supplier", "W1/free", unit_cost=str(c))
        for i, c in enumerate((5, 7))
    ]
    assert await settle(hub, after=mark) == []  # today is still open
    made = await settle(hub, after=mark, now=datetime.now(CONFIG.zone) + timedelta(days=1))
    assert len(made) == 1
    async with httpx.AsyncClient(base_url=voucher_api) as api:
        v = (await api.get(f"/api/v1/vouchers/{made[0]}")).json()
    assert v["mode"] == "summary" and v["total"] == "24.00" and v["status"] == "posted"
    assert sorted(v["movement_ids"]) == sorted(str(i) for i in ids)
    assert len(sandbox_vouchers(kingdee)) == 1
    assert await settle(hub, now=datetime.now(CONFIG.zone) + timedelta(days=1)) == []  # summarised once
