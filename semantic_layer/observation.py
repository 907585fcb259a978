"""What a source said, in canonical words: observations (levels), stock deltas and order events.

These are the only things mappings produce and the only things the hub feeds into the cube,
the arbitration and the ledger. All timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, NamedTuple

OrderKind = Literal["created", "paid", "cancelled", "shipped", "returned"]
ORDER_KINDS: tuple[str, ...] = ("created", "paid", "cancelled", "shipped", "returned")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CellKey(NamedTuple):
    """One cube cell: what one source says about one stock type of one sku at one location."""

    source: str
    sku: str
    location: str
    stock_type: str


def to_utc(value: datetime, what: str = "timestamp") -> datetime:
    """``value`` in UTC; a naive datetime is refused because its zone would be a guess."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} has no timezone; give an aware datetime")
    return value.astimezone(UTC)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


@dataclass(frozen=True)
class Observation:
    """One source's claim about one cell at one time (a level, not a change)."""

    source: str
    sku: str
    location: str
    stock_type: str
    quantity: int
    observed_at: datetime
    raw_event_id: int | None = None
    rule_id: str = ""
    rule_version: str = ""
    field: str = ""  # the source's own field name the figure came from (lineage)

    def __post_init__(self) -> None:
        _require(bool(_NAME.match(self.source)), f"source {self.source!r} must be an identifier ([A-Za-z_][A-Za-z0-9_]*)")
        _require(bool(self.sku), "sku must not be empty")
        _require(bool(self.location), "location must not be empty")
        _require(bool(_NAME.match(self.stock_type)), f"stock_type {self.stock_type!r} must be an identifier")
        _require(
            isinstance(self.quantity, int) and not isinstance(self.quantity, bool),
            f"quantity must be an int, got {self.quantity!r}",
        )
        object.__setattr__(self, "observed_at", to_utc(self.observed_at, "observed_at"))

    @property
    def cell(self) -> CellKey:
        return CellKey(self.source, self.sku, self.location, self.stock_type)


@dataclass(frozen=True)
class StockDelta:
    """A signed change a source reports (e.g. Qimen stockchange.report), keyed by the source's dedupe ref."""

    source: str
    sku: str
    location: str
    stock_type: str
    delta: int
    occurred_at: datetime
    reason: str = ""  # the source's change type, e.g. Qimen orderType CGRK
    ref: str = ""  # the source's dedupe key, e.g. Qimen outBizCode
    raw_event_id: int | None = None
    rule_id: str = ""
    rule_version: str = ""
    field: str = ""

    def __post_init__(self) -> None:
        _require(bool(_NAME.match(self.source)), f"source {self.source!r} must be an identifier")
        _require(bool(self.sku), "sku must not be empty")
        _require(isinstance(self.delta, int) and not isinstance(self.delta, bool), f"delta must be an int: {self.delta!r}")
        object.__setattr__(self, "occurred_at", to_utc(self.occurred_at, "occurred_at"))


@dataclass(frozen=True)
class OrderLine:
    sku: str
    qty: int
    location: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.sku), "order line sku must not be empty")
        _require(isinstance(self.qty, int) and not isinstance(self.qty, bool) and self.qty > 0,
                 f"order line qty must be a positive int, got {self.qty!r}")


@dataclass(frozen=True)
class OrderEvent:
    """A business event about an order. Empty ``lines`` means the source sent no lines (fetch the detail)."""

    source: str
    kind: OrderKind
    order_ref: str
    lines: tuple[OrderLine, ...]
    occurred_at: datetime
    raw_event_id: int | None = None
    rule_id: str = ""
    rule_version: str = ""
    pay_to_deduct: bool = False  # True: stock is reserved on payment, not on creation (Taobao 付款减库存)

    def __post_init__(self) -> None:
        _require(self.kind in ORDER_KINDS, f"order kind {self.kind!r} must be one of {', '.join(ORDER_KINDS)}")
        _require(bool(self.order_ref), "order_ref must not be empty")
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "occurred_at", to_utc(self.occurred_at, "occurred_at"))
