from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.errors import InvalidRequest, UnknownAccount
from hub.domain.ledger import Account, make_movement, net_deltas


def test_parses_bucket_and_virtual_accounts() -> None:
    assert Account.parse("WH-SH/free") == Account("WH-SH", "free")
    assert Account.parse("supplier").is_virtual
    assert str(Account.parse("WH-BJ/quality_hold")) == "WH-BJ/quality_hold"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("WH-SH/frozen", "unknown bucket 'frozen'"),
        ("warehouse", "unknown account 'warehouse'"),
        ("customer/free", "virtual location 'customer' has no buckets"),
        ("", "non-empty"),
        ("/free", "bad location"),
    ],
)
def test_refuses_unknown_accounts_naming_them(text: str, fragment: str) -> None:
    with pytest.raises(UnknownAccount, match=fragment):
        Account.parse(text)


@pytest.mark.parametrize("qty", [0, -1, 1.5, True, "3", 10**13])
def test_refuses_quantities_that_are_not_positive_integers(qty: object) -> None:
    with pytest.raises(InvalidRequest, match="qty must be a positive integer"):
        make_movement(key="k", sku="A", qty=qty, source="supplier", target="W/free", kind="receive")  # type: ignore[arg-type]


def test_refuses_same_account_on_both_sides_and_unknown_kind() -> None:
    with pytest.raises(InvalidRequest, match="same account"):
        make_movement(key="k", sku="A", qty=1, source="W/free", target="W/free", kind="move")
    with pytest.raises(InvalidRequest, match="unknown kind 'teleport'"):
        make_movement(key="k", sku="A", qty=1, source="W/free", target="W/reserved", kind="teleport")
    with pytest.raises(InvalidRequest, match="key must be"):
        make_movement(key=" ", sku="A", qty=1, source="W/free", target="W/reserved", kind="reserve")


accounts = st.sampled_from(["supplier", "customer", "adjustment", "W1/free", "W1/reserved", "W2/free", "transit"])


@given(st.lists(st.tuples(accounts, accounts, st.integers(1, 100)), max_size=30))
def test_net_deltas_of_any_batch_sum_to_zero_per_sku(moves: list[tuple[str, str, int]]) -> None:
    batch = [
        make_movement(key=f"k{i}", sku="A", qty=q, source=a, target=b, kind="move")
        for i, (a, b, q) in enumerate(moves)
        if a != b
    ]
    deltas = net_deltas(batch)
    assert sum(deltas.values()) == 0
    assert all(v != 0 for v in deltas.values())
    assert list(deltas) == sorted(deltas)
