"""Voucher (凭证) value objects.

A `Voucher` is the unit the hub posts to an ERP: one account book, one date, balanced lines. It
refuses to exist unbalanced, so nothing downstream (connectors, storage) has to re-check it —
an ERP refusal for imbalance would mean a bug here, not a data problem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Mapping

CENT = Decimal("0.01")


class VoucherError(ValueError):
    """Base class for every voucher-building problem (bad template, unmapped account, imbalance)."""


class UnbalancedVoucher(VoucherError):
    """Debits and credits differ; the voucher is refused before it reaches any ERP."""


class UnmappedAccount(VoucherError):
    """A logical account (e.g. `inventory`) has no code in the ERP's account map."""


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half-up — the rounding Chinese GL systems apply to 本位币 amounts."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def voucher_key(*parts: object) -> str:
    """A short, stable idempotency key (`ZS` + 16 hex) from the parts that identify a voucher.

    Short because it travels inside ERP fields with length limits (Kingdee 摘要 prefix,
    Yonyou externalSourceDataId); stable so a retry computes the same key.
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return "ZS" + digest[:16].upper()


@dataclass(frozen=True)
class VoucherLine:
    """One entry line: exactly one of debit/credit is non-zero, both are >= 0 and in cents."""

    account: str
    debit: Decimal
    credit: Decimal
    summary: str
    dims: tuple[tuple[str, str], ...] = ()
    movement_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "debit", money(self.debit))
        object.__setattr__(self, "credit", money(self.credit))
        if self.debit < 0 or self.credit < 0:
            raise VoucherError(f"line on account {self.account!r} has a negative amount")
        if (self.debit == 0) == (self.credit == 0):
            raise VoucherError(
                f"line on account {self.account!r} must have exactly one of debit/credit non-zero "
                f"(debit={self.debit}, credit={self.credit})"
            )
        if isinstance(self.dims, Mapping):
            object.__setattr__(self, "dims", tuple(sorted(self.dims.items())))

    @property
    def dims_map(self) -> dict[str, str]:
        return dict(self.dims)

    @property
    def amount(self) -> Decimal:
        """Signed amount: debit positive, credit negative."""
        return self.debit - self.credit


@dataclass(frozen=True)
class Voucher:
    """A balanced voucher for one account book and date; construction fails when unbalanced."""

    key: str
    book: str
    date: date
    lines: tuple[VoucherLine, ...]
    source_movement_ids: tuple[str, ...] = ()
    group: str = "记"
    meta: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if len(self.lines) < 2:
            raise UnbalancedVoucher(f"voucher {self.key} needs at least two lines, got {len(self.lines)}")
        if self.total_debit != self.total_credit:
            raise UnbalancedVoucher(
                f"voucher {self.key} is unbalanced: debits {self.total_debit} != credits {self.total_credit}"
            )
        if not self.source_movement_ids:
            ids = sorted({m for line in self.lines for m in line.movement_ids})
            object.__setattr__(self, "source_movement_ids", tuple(ids))

    @property
    def total_debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal("0.00"))

    @property
    def total_credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), Decimal("0.00"))

    def with_accounts(self, account_map: Mapping[str, str]) -> Voucher:
        """Replace logical account names by ERP codes; an unmapped name raises `UnmappedAccount`."""
        missing = sorted({line.account for line in self.lines if line.account not in account_map})
        if missing:
            raise UnmappedAccount(f"voucher {self.key}: no ERP account code for {', '.join(missing)}")
        lines = tuple(replace(line, account=str(account_map[line.account])) for line in self.lines)
        return replace(self, lines=lines)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, key: str | None = None) -> Voucher:
        """Inverse of `to_dict()` (the hub stores vouchers as JSON)."""
        lines = tuple(
            VoucherLine(
                account=str(ln["account"]),
                debit=Decimal(str(ln.get("debit", 0))),
                credit=Decimal(str(ln.get("credit", 0))),
                summary=str(ln.get("summary", "")),
                dims=tuple(sorted((ln.get("dims") or {}).items())),
                movement_ids=tuple(ln.get("movement_ids", ())),
            )
            for ln in data["lines"]  # type: ignore[union-attr]
        )
        return cls(
            key=key or str(data["key"]),
            book=str(data["book"]),
            date=date.fromisoformat(str(data["date"])),
            lines=lines,
            source_movement_ids=tuple(data.get("source_movement_ids", ())),  # type: ignore[arg-type]
            group=str(data.get("group", "记")),
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (amounts as strings) for storage, logs and dry runs."""
        return {
            "key": self.key,
            "book": self.book,
            "date": self.date.isoformat(),
            "group": self.group,
            "source_movement_ids": list(self.source_movement_ids),
            "lines": [
                {
                    "account": line.account,
                    "debit": str(line.debit),
                    "credit": str(line.credit),
                    "summary": line.summary,
                    "dims": dict(line.dims),
                    "movement_ids": list(line.movement_ids),
                }
                for line in self.lines
            ],
        }
