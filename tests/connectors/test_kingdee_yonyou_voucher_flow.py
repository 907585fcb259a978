"""Movements → templates → moving-average vouchers → both ERP sandboxes, each exactly once."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import httpx

from connectors.testing import run_sandbox
from connectors.vouchers import MovementFact, MovingAverageCost, build_vouchers, load_templates, summarise
from connectors.kingdee.sandbox import create_app as kingdee_app
from connectors.yonyou.sandbox import create_app as yonyou_app
from tests.connectors import kingdee_support
from tests.connectors.test_yonyou_sandbox import APP_KEY, APP_SECRET
from tests.connectors.test_yonyou_sandbox import connector as yonyou_connector

DAY = date(2024, 5, 6)


def movements() -> list[MovementFact]:
    def mv(mid: str, kind: str, frm: str, to: str, qty: int, **kw: object) -> MovementFact:
        return MovementFact(mid, kind, "SKU-A", D(qty), datetime(2024, 5, 6, 10), frm, to, "E1",
                            warehouse="W1", **kw)  # type: ignore[arg-type]

    return [
        mv("m1", "receive", "supplier", "warehouse", 10, unit_cost=D("10"), refs={"entry_order_id": "EO1"}),
        mv("m2", "receive", "supplier", "warehouse", 10, unit_cost=D("13"), refs={"entry_order_id": "EO2"}),
        mv("m3", "reserve", "warehouse", "warehouse", 3),
        mv("m4", "ship", "warehouse", "customer", 3, shop="TM1", refs={"order_id": "O1"}),
        mv("m5", "adjust", "warehouse", "adjustment", 1),
    ]


async def test_movements_post_to_both_erps_valued_at_moving_average_exactly_once() -> None:
    templates = load_templates()
    vouchers = build_vouchers(movements(), templates, MovingAverageCost())
    assert [v.total_debit for v in vouchers] == [D("100.00"), D("130.00"), D("34.50"), D("11.50")]
    with run_sandbox(kingdee_app(app_key=kingdee_support.APP_ID, app_secret=kingdee_support.APP_SECRET,
                                 acct_id=kingdee_support.ACCT)) as kd_url, \
            run_sandbox(yonyou_app(app_key=APP_KEY, app_secret=APP_SECRET, calls_per_minute=1000)) as yy_url:
        async with kingdee_support.connector(kd_url) as kd, yonyou_connector(yy_url) as yy:
            for erp, conn in (("kingdee", kd), ("yonyou", yy)):
                mapped = [v.with_accounts(templates.account_map(erp)) for v in vouchers]
                first = [await conn.post(v) for v in mapped]
                again = [await conn.post(v) for v in mapped]  # a replay changes nothing
                assert not any(p.already_posted for p in first) and all(p.already_posted for p in again)
                back = await conn.list_posted("E1", DAY, DAY)
                assert sorted(p.key for p in back) == sorted(v.key for v in vouchers)
                assert all(p.total_debit == p.total_credit for p in back)
                cost_of_sales = sum((ln.debit for p in back for ln in p.lines if ln.account == "6401"), D(0))
                assert cost_of_sales == D("34.50")
        assert len(httpx.get(f"{kd_url}/_sandbox/vouchers").json()) == 4
        assert len(httpx.get(f"{yy_url}/_sandbox/vouchers").json()) == 4


async def test_summarised_day_voucher_posts_once_with_all_movement_lineage() -> None:
    templates = load_templates()
    vouchers = build_vouchers(movements(), templates, MovingAverageCost())
    daily = summarise(vouchers, grain=("day",))
    receipts = next(v for v in daily if dict(v.meta)["template"] == "receive")
    assert receipts.source_movement_ids == ("m1", "m2") and receipts.total_debit == D("230.00")
    with run_sandbox(kingdee_app(app_key=kingdee_support.APP_ID, app_secret=kingdee_support.APP_SECRET,
                                 acct_id=kingdee_support.ACCT)) as kd_url:
        async with kingdee_support.connector(kd_url) as kd:
            posted = await kd.post(receipts.with_accounts(templates.account_map("kingdee")))
            back = await kd.find(receipts.key)
    assert back is not None and back.erp_id == posted.erp_id
    assert back.lines[0].summary == "2024-05-06 采购入库汇总 2笔"
