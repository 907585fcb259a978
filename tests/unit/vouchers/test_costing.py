from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.vouchers import CostingError, MovingAverageCost, StandardCost


def test_moving_average_values_shipments_at_the_running_average() -> None:
    c = MovingAverageCost()
    c.receive("A", 10, D("10"))
    c.receive("A", 10, D("13"))
    v = c.issue("A", 5)
    assert v.amount == D("57.50") and v.unit_cost == D("11.5")
    assert c.positions["A"].quantity == 15 and c.positions["A"].value == D("172.50")


def test_last_unit_issues_exactly_the_remaining_value() -> None:
    c = MovingAverageCost()
    c.receive("A", 3, D("3.333"))  # 10.00 (rounded once, half-up)
    parts = [c.issue("A", 1).amount for _ in range(3)]
    assert parts == [D("3.33"), D("3.34"), D("3.33")] and sum(parts) == D("10.00")


def test_issue_beyond_valued_stock_is_refused() -> None:
    c = MovingAverageCost()
    c.receive("A", 1, D("2"))
    with pytest.raises(CostingError, match="only 1 valued"):
        c.issue("A", 2)


def test_gain_uses_the_last_known_cost_after_stock_ran_out() -> None:
    c = MovingAverageCost()
    c.receive("A", 2, D("4"))
    c.issue("A", 2)
    assert c.gain("A", 1).amount == D("4.00")
    with pytest.raises(CostingError, match="no cost known for B"):
        c.gain("B", 1)


def test_standard_cost_books_the_price_variance_on_receipts() -> None:
    c = StandardCost({"A": "10"})
    v = c.receive("A", 3, D("11.5"))
    assert (v.amount, v.variance) == (D("30.00"), D("4.50"))
    assert c.issue("A", 2).amount == D("20.00")
    with pytest.raises(CostingError, match="no standard cost configured for B"):
        c.issue("B", 1)


ops = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(min_value=1, max_value=50),
        st.decimals(min_value=D("0"), max_value=D("999.9999"), places=4),
    ),
    max_size=40,
)


@given(ops)
def test_moving_average_conserves_value(seq: list[tuple[bool, int, D]]) -> None:
    c = MovingAverageCost()
    received = issued = D("0")
    for is_receipt, qty, cost in seq:
        held = c.position("A").quantity
        if is_receipt or held == 0:
            received += c.receive("A", qty, cost).amount
        else:
            issued += c.issue("A", min(qty, int(held))).amount
    pos = c.position("A")
    assert received - issued == pos.value
    assert pos.value >= 0
    if pos.quantity == 0:
        assert pos.value == 0


def test_snapshot_round_trip_keeps_the_average() -> None:
    c = MovingAverageCost()
    c.receive("A", 3, D("10"))
    c.receive("A", 1, D("14"))
    again = MovingAverageCost.from_snapshot(c.snapshot())
    assert again.issue("A", 2).amount == c.issue("A", 2).amount == D("22.00")
