from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from connectors.vouchers import UnbalancedVoucher, UnmappedAccount, Voucher, VoucherError, VoucherLine, voucher_key


def line(account: str, debit: str = "0", credit: str = "0") -> VoucherLine:
    return VoucherLine(account=account, debit=D(debit), credit=D(credit), summary="t", movement_ids=("m1",))


def test_balanced_voucher_builds_and_collects_movement_ids() -> None:
    v = Voucher("K1", "E1", date(2024, 5, 1), (line("inventory", debit="10.005"), line("grni", credit="10.01")))
    assert v.total_debit == v.total_credit == D("10.01")
    assert v.source_movement_ids == ("m1",)


def test_unbalanced_voucher_is_refused_naming_both_totals() -> None:
    with pytest.raises(UnbalancedVoucher, match=r"debits 10.00 != credits 9.99"):
        Voucher("K1", "E1", date(2024, 5, 1), (line("a", debit="10"), line("b", credit="9.99")))


def test_single_line_voucher_is_refused() -> None:
    with pytest.raises(UnbalancedVoucher, match="at least two lines"):
        Voucher("K1", "E1", date(2024, 5, 1), (line("a", debit="10"),))


@pytest.mark.parametrize(("debit", "credit"), [("1", "1"), ("0", "0"), ("-1", "0")])
def test_a_line_must_be_one_sided_and_positive(debit: str, credit: str) -> None:
    with pytest.raises(VoucherError):
        line("a", debit=debit, credit=credit)


def test_with_accounts_maps_codes_and_names_missing_ones() -> None:
    v = Voucher("K1", "E1", date(2024, 5, 1), (line("inventory", debit="5"), line("grni", credit="5")))
    assert [x.account for x in v.with_accounts({"inventory": "1405", "grni": "2202"}).lines] == ["1405", "2202"]
    with pytest.raises(UnmappedAccount, match="grni"):
        v.with_accounts({"inventory": "1405"})


def test_voucher_key_is_stable_short_and_distinct() -> None:
    assert voucher_key("mv", "m1") == voucher_key("mv", "m1")
    assert voucher_key("mv", "m1") != voucher_key("mv", "m2")
    assert len(voucher_key("x")) == 18 and voucher_key("x").startswith("ZS")
