"""Movements → vouchers at moving-average cost → both ERP sandboxes, exactly once; refusals and retry."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import httpx
from sqlalchemy import update

from hub import lineage
from hub.bootstrap import Hub
from hub.storage.models import Source
from hub.vouchers.jobs import post_posting
from tests.integration.vouchers.conftest import (
    connect_erps,
    move,
    newest_voucher_id,
    period_now,
    sandbox_vouchers,
    settle,
)


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def stock_story(hub: Hub) -> tuple[str, list[int]]:
    """Two receipts at 10 and 13, a shipment of 3, a stock-count loss of 1, and a reservation (no voucher)."""
    t, sku = tag(), f"SKU-{tag()}"
    ids = [
        await move(
            hub,
            f"rcv1-{t}",
            "receive",
            sku,
            10,
            "supplier",
            "W1/free",
            unit_cost="10",
            refs={"entry_order_id": f"EO1-{t}"},
        ),
        await move(
            hub,
            f"rcv2-{t}",
            "receive",
            sku,
            10,
            "supplier",
            "W1/free",
            unit_cost="13.00",
            refs={"entry_order_id": f"EO2-{t}"},
        ),
        await move(hub, f"rsv-{t}", "reserve", sku, 3, "W1/free", "W1/reserved"),
        await move(hub, f"shp-{t}", "ship", sku, 3, "W1/reserved", "customer", refs={"order_id": f"O-{t}"}, shop="TM1"),
        await move(hub, f"cnt-{t}", "adjust", sku, 1, "W1/free", "adjustment"),
    ]
    return sku, ids


async def test_receipts_shipment_and_adjustment_post_once_to_both_erps_even_after_a_timeout(
    hub: Hub, kingdee: str, yonyou: str, voucher_api: str
) -> None:
    erps = await connect_erps(hub, kingdee=kingdee, yonyou=yonyou)
    mark = await newest_voucher_id(hub)
    for url in (kingdee, yonyou):  # the first save in each ERP lands, but its answer comes too late
        httpx.post(f"{url}/_sandbox/knobs", json={"timeout_after_save": 1, "timeout_seconds": 1.0}).raise_for_status()
    sku, movement_ids = await stock_story(hub)
    voucher_ids = await settle(hub, after=mark)

    assert len(voucher_ids) == 4  # the reservation has no financial meaning
    async with httpx.AsyncClient(base_url=voucher_api) as api:
        shown = [(await api.get(f"/api/v1/vouchers/{vid}")).json() for vid in voucher_ids]
    assert [v["total"] for v in shown] == ["100.00", "130.00", "34.50", "11.50"]  # 3 × 11.50, 1 × 11.50
    assert [v["template"] for v in shown] == ["receive", "receive", "ship", "adjust_loss"]
    for v in shown:
        assert v["status"] == "posted" and v["total_debit"] == v["total_credit"]
        assert {p["erp"] for p in v["postings"]} == {erps.kingdee, erps.yonyou}
        assert all(p["erp_number"] for p in v["postings"])
        assert v["lineage_id"] == f"voucher:{v['id']}"
    ship = shown[2]
    assert {ln["account"] for ln in ship["lines"]} == {"cost_of_sales", "inventory"}
    assert ship["movement_ids"] == [str(movement_ids[3])]
    assert "O-" in ship["lines"][0]["summary"] and sku in ship["lines"][0]["summary"]
    # the timed-out save was found by the retry's query, not saved again
    assert sum(p["already_posted"] for v in shown for p in v["postings"]) == 2
    kd, yy = sandbox_vouchers(kingdee), sandbox_vouchers(yonyou)
    assert len(kd) == 4 and len(yy) == 4
    kd_cost = sum(D(str(e["DEBIT"])) for v in kd for e in v["Entity"] if e["ACCOUNTID"]["Number"] == "6401")
    assert kd_cost == D("34.50")

    # replays change nothing: a re-scan makes no voucher, a re-run post job posts nothing
    assert await settle(hub) == []
    outcome = await post_posting(hub.ctx, shown[0]["postings"][0]["id"])
    assert outcome.status == "skipped"
    assert len(sandbox_vouchers(kingdee)) == 4 and len(sandbox_vouchers(yonyou)) == 4

    async with hub.sessionmaker() as session:
        graph = await lineage.walk(session, f"voucher:{ship['id']}")
    assert f"movement:{movement_ids[3]}" in {n["id"] for n in graph["upstream"]}
    assert any(n["kind"] == "voucher_post" for n in graph["downstream"])


async def test_refusals_leave_the_erp_message_visible_and_posting_resumes_after_the_fix(
    hub: Hub, kingdee: str, yonyou: str, voucher_api: str
) -> None:
    # Kingdee: our map sends inventory to 1406, which its chart lacks; Yonyou: the period is closed.
    erps = await connect_erps(hub, kingdee=kingdee, yonyou=yonyou, kd_settings={"account_map": {"inventory": "1406"}})
    mark = await newest_voucher_id(hub)
    httpx.post(f"{yonyou}/_sandbox/periods", json={"book": "ZS01", "period": period_now()}).raise_for_status()
    t = tag()
    await move(hub, f"rcv-{t}", "receive", f"SKU-{t}", 4, "supplier", "W1/free", unit_cost="2.50")
    (vid,) = await settle(hub, after=mark)

    async with httpx.AsyncClient(base_url=voucher_api) as api:
        failed = (await api.get("/api/v1/vouchers", params={"status": "failed", "period": period_now()})).json()
        assert vid in [v["id"] for v in failed["vouchers"]]
        shown = (await api.get(f"/api/v1/vouchers/{vid}")).json()
        by_erp = {p["erp"]: p for p in shown["postings"]}
        assert shown["status"] == "failed"
        assert by_erp[erps.kingdee]["status"] == "failed" and "1406" in by_erp[erps.kingdee]["error"]
        assert "不存在" in by_erp[erps.kingdee]["error"]  # Kingdee's own words
        assert by_erp[erps.yonyou]["status"] == "failed" and "已结账" in by_erp[erps.yonyou]["error"]
        assert sandbox_vouchers(kingdee) == [] and sandbox_vouchers(yonyou) == []

        # a retry before the fix fails again, with the same message
        assert (await api.post(f"/api/v1/vouchers/{vid}/retry", params={"erp": erps.yonyou})).status_code == 202
        await hub.queue.drain(timeout=30)
        again = (await api.get(f"/api/v1/vouchers/{vid}")).json()
        assert {p["erp"]: p["status"] for p in again["postings"]}[erps.yonyou] == "failed"

        # fix: Kingdee's map corrected, Yonyou's period reopened; then retry
        async with hub.sessionmaker() as session, session.begin():
            source = await session.get(Source, erps.kingdee)
            assert source is not None
            await session.execute(
                update(Source)
                .where(Source.name == erps.kingdee)
                .values(settings={k: v for k, v in source.settings.items() if k != "account_map"})
            )
        httpx.post(f"{yonyou}/_sandbox/periods", json={"book": "ZS01", "period": period_now(), "closed": False})
        assert (await api.post(f"/api/v1/vouchers/{vid}/retry")).status_code == 202
        await hub.queue.drain(timeout=30)
        fixed = (await api.get(f"/api/v1/vouchers/{vid}")).json()
        assert fixed["status"] == "posted" and all(p["error"] is None for p in fixed["postings"])
        assert (await api.post(f"/api/v1/vouchers/{vid}/retry")).status_code == 409  # nothing left to retry
    assert len(sandbox_vouchers(kingdee)) == 1 and len(sandbox_vouchers(yonyou)) == 1
    assert sandbox_vouchers(kingdee)[0]["Entity"][0]["ACCOUNTID"]["Number"] == "1405"


async def test_an_unknown_account_is_fixed_by_adding_it_in_the_erp(hub: Hub, kingdee: str, voucher_api: str) -> None:
    erps = await connect_erps(hub, kingdee=kingdee, kd_settings={"account_map": {"grni": "2202.09"}})
    mark = await newest_voucher_id(hub)
    t = tag()
    await move(hub, f"rcv-{t}", "receive", f"SKU-{t}", 1, "supplier", "W1/free", unit_cost="8")
    (vid,) = await settle(hub, after=mark)
    async with httpx.AsyncClient(base_url=voucher_api) as api:
        posting = (await api.get(f"/api/v1/vouchers/{vid}")).json()["postings"][0]
        assert posting["status"] == "failed" and "2202.09" in posting["error"]
        httpx.post(
            f"{kingdee}/_sandbox/accounts", json={"number": "2202.09", "name": "暂估应付-中枢"}
        ).raise_for_status()
        assert (await api.post(f"/api/v1/vouchers/{vid}/retry", params={"erp": erps.kingdee})).status_code == 202
        await hub.queue.drain(timeout=30)
        assert (await api.get(f"/api/v1/vouchers/{vid}")).json()["status"] == "posted"


async def test_bad_requests_are_4xx_naming_the_problem(voucher_api: str) -> None:
    async with httpx.AsyncClient(base_url=voucher_api) as api:
        bad_status = await api.get("/api/v1/vouchers", params={"status": "lost"})
        bad_period = await api.get("/api/v1/vouchers/reconciliation", params={"period": "2026-13", "erp": "x"})
        missing = await api.get("/api/v1/vouchers/999999999")
        no_erp = await api.get("/api/v1/vouchers/reconciliation", params={"period": "2026-11", "erp": "nope"})
        bad_cost = await api.post("/api/v1/vouchers/unit-costs", json={"movement_key": "k", "unit_cost": "abc"})
    assert bad_status.status_code == 422 and "status" in bad_status.json()["detail"]
    assert bad_period.status_code == 422 and "YYYY-MM" in bad_period.json()["detail"]
    assert missing.status_code == 404
    assert no_erp.status_code == 404 and "nope" in no_erp.json()["detail"]
    assert bad_cost.status_code == 422 and "unit_cost" in bad_cost.json()["detail"]
