from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest

from connectors.vouchers import (
    MovementFact,
    MovingAverageCost,
    StandardCost,
    TemplateError,
    build_voucher,
    build_vouchers,
    dry_run,
    load_templates,
    parse_templates,
    summarise,
)

T = load_templates()


def mv(mid: str, kind: str, frm: str, to: str, qty: int = 1, **kw) -> MovementFact:
    kw.setdefault("entity", "E1")
    kw.setdefault("warehouse", "W1")
    return MovementFact(mid, kind, kw.pop("sku", "A"), D(qty), kw.pop("at", date(2024, 5, 1)), frm, to, **kw)


def sides(v) -> list[tuple[str, str, str]]:
    return [(ln.account, str(ln.debit), str(ln.credit)) for ln in v.lines]


def test_receive_debits_inventory_and_credits_grni_with_entry_order_in_summary() -> None:
    v = build_voucher(
        mv("m1", "receive", "supplier", "warehouse", 10, unit_cost=D("2.5"), refs={"entry_order_id": "EO7"}),
        T,
        MovingAverageCost(),
    )
    assert sides(v) == [("inventory", "25.00", "0.00"), ("grni", "0.00", "25.00")]
    assert v.lines[0].summary == "采购入库 EO7 A×10"
    assert v.lines[0].dims_map == {"warehouse": "W1", "sku": "A"}


def test_ship_is_valued_at_moving_average_cost_of_sales() -> None:
    c = MovingAverageCost()
    build_vouchers(
        [
            mv("r1", "receive", "supplier", "warehouse", 1, unit_cost=D("10")),
            mv("r2", "receive", "supplier", "warehouse", 1, unit_cost=D("20")),
        ],
        T,
        c,
    )
    v = build_voucher(mv("s1", "ship", "warehouse", "customer", 1, shop="TM1", refs={"order_id": "O1"}), T, c)
    assert sides(v) == [("cost_of_sales", "15.00", "0.00"), ("inventory", "0.00", "15.00")]
    assert "订单O1" in v.lines[0].summary and v.lines[0].dims_map["shop"] == "TM1"


def test_adjustments_go_to_gain_loss_in_the_right_direction() -> None:
    c = MovingAverageCost()
    build_voucher(mv("r", "receive", "supplier", "warehouse", 4, unit_cost=D("5")), T, c)
    loss = build_voucher(mv("l", "adjust", "warehouse", "adjustment", 1), T, c)
    gain = build_voucher(mv("g", "adjust", "adjustment", "warehouse", 2), T, c)
    assert sides(loss) == [("inventory_gain_loss", "5.00", "0.00"), ("inventory", "0.00", "5.00")]
    assert sides(gain) == [("inventory", "10.00", "0.00"), ("inventory_gain_loss", "0.00", "10.00")]


def test_presale_hold_reserve_and_same_entity_transfer_post_nothing() -> None:
    c = MovingAverageCost()
    for kind in ("presale_lock", "hold", "reserve", "cancel"):
        assert build_voucher(mv(kind, kind, "warehouse", "warehouse"), T, c) is None
    assert build_voucher(mv("t", "transfer_out", "warehouse", "transit", counterparty_entity="E1"), T, c) is None


def test_intercompany_transfer_books_both_entities() -> None:
    a, b = MovingAverageCost(), MovingAverageCost()
    build_voucher(mv("r", "receive", "supplier", "warehouse", 2, unit_cost=D("7")), T, a)
    out = build_voucher(
        mv("t1", "transfer_out", "warehouse", "transit", 2, counterparty_entity="E2", refs={"transfer_id": "TR1"}),
        T,
        a,
    )
    inn = build_voucher(
        mv("t2", "transfer_in", "transit", "warehouse", 2, entity="E2", counterparty_entity="E1", unit_cost=D("7")),
        T,
        b,
    )
    assert out.book == "E1"
    assert sides(out) == [("intercompany_receivable", "14.00", "0.00"), ("inventory", "0.00", "14.00")]
    assert inn.book == "E2"
    assert sides(inn) == [("inventory", "14.00", "0.00"), ("intercompany_payable", "0.00", "14.00")]


def test_standard_cost_receipt_posts_a_price_variance_line() -> None:
    v = build_voucher(mv("r", "receive", "supplier", "warehouse", 2, unit_cost=D("9")), T, StandardCost({"E1|A": 10}))
    assert sides(v) == [("inventory", "20.00", "0.00"), ("price_variance", "0.00", "2.00"), ("grni", "0.00", "18.00")]


def test_unknown_movement_kind_names_the_movement() -> None:
    with pytest.raises(TemplateError, match="movement x9 .*kind=teleport"):
        build_voucher(mv("x9", "teleport", "warehouse", "warehouse"), T, MovingAverageCost())


def test_receipt_without_cost_is_refused() -> None:
    with pytest.raises(TemplateError, match="without unit_cost"):
        build_voucher(mv("r", "receive", "supplier", "warehouse"), T, MovingAverageCost())


@pytest.mark.parametrize(
    ("doc", "msg"),
    [
        ({}, "needs a 'templates' mapping"),
        ({"templates": {"a": {"match": {}}}}, "needs match.kind"),
        ({"templates": {"a": {"match": {"kind": "x"}, "valuation": "fifo"}}}, "valuation 'fifo'"),
        (
            {"templates": {"a": {"match": {"kind": "x"}, "valuation": "issue",
                                 "lines": [{"side": "debit", "account": "i"}]}}},
            "needs debit and credit",
        ),
    ],
)
def test_malformed_templates_are_rejected_on_load(doc: dict, msg: str) -> None:
    with pytest.raises(TemplateError, match=msg):
        parse_templates(doc)


def test_dry_run_maps_to_erp_codes() -> None:
    out = dry_run(mv("r", "receive", "supplier", "warehouse", unit_cost=D("1")), T, MovingAverageCost(), "kingdee")
    assert out["template"] == "receive" and [ln["account"] for ln in out["voucher"]["lines"]] == ["1405", "2202.02"]


def test_summarise_per_day_and_shop_merges_lines_and_keeps_lineage() -> None:
    c = MovingAverageCost()
    build_voucher(mv("r", "receive", "supplier", "warehouse", 10, unit_cost=D("1")), T, c)
    ships = build_vouchers(
        [
            mv("s1", "ship", "warehouse", "customer", 1, shop="S1", at=datetime(2024, 5, 1, 9)),
            mv("s2", "ship", "warehouse", "customer", 2, shop="S1", at=datetime(2024, 5, 1, 18)),
            mv("s3", "ship", "warehouse", "customer", 3, shop="S2", at=datetime(2024, 5, 1, 10)),
            mv("s4", "ship", "warehouse", "customer", 1, shop="S1", at=datetime(2024, 5, 2, 10)),
        ],
        T,
        c,
    )
    out = summarise(ships, grain=("day", "shop"))
    assert len(out) == 3
    first = out[0]
    assert first.source_movement_ids == ("s1", "s2") and sides(first) == [
        ("cost_of_sales", "3.00", "0.00"),
        ("inventory", "0.00", "3.00"),
    ]
    assert first.lines[0].summary == "2024-05-01 S1 销售出库汇总 2笔"
    assert summarise(ships, grain=("day", "shop"))[0].key == first.key
    assert len(summarise(ships, grain=("day",))) == 2
