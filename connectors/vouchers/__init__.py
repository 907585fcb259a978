"""Pure voucher logic: movements → valued, balanced vouchers (no I/O).

The hub feeds `MovementFact`s in ledger order to `build_voucher` with a persistent costing
engine, optionally `summarise`s them, maps logical accounts with `Voucher.with_accounts`, and
hands the result to an ERP connector (connectors.kingdee / connectors.yonyou).
"""

from __future__ import annotations

from connectors.vouchers.costing import CostingError, MovingAverageCost, Position, StandardCost, Valuation
from connectors.vouchers.model import (
    UnbalancedVoucher,
    UnmappedAccount,
    Voucher,
    VoucherError,
    VoucherLine,
    money,
    voucher_key,
)
from connectors.vouchers.movement import MovementFact
from connectors.vouchers.summarise import summarise
from connectors.vouchers.templates import (
    Template,
    TemplateError,
    TemplateSet,
    build_voucher,
    build_vouchers,
    dry_run,
    load_templates,
    parse_templates,
)

__all__ = [
    "CostingError",
    "MovementFact",
    "MovingAverageCost",
    "Position",
    "StandardCost",
    "Template",
    "TemplateError",
    "TemplateSet",
    "UnbalancedVoucher",
    "UnmappedAccount",
    "Valuation",
    "Voucher",
    "VoucherError",
    "VoucherLine",
    "build_voucher",
    "build_vouchers",
    "dry_run",
    "load_templates",
    "money",
    "parse_templates",
    "summarise",
    "voucher_key",
]
