"""Request and response shapes (msgspec Structs), so the OpenAPI schema documents every field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

Key = Annotated[str, Meta(min_length=1, max_length=200, description="idempotency key, unique per movement")]
Sku = Annotated[str, Meta(min_length=1, max_length=128)]
Qty = Annotated[int, Meta(description="positive number of units")]


class MovementIn(msgspec.Struct, forbid_unknown_fields=True):
    key: Key
    sku: Sku
    qty: Qty
    from_: str = msgspec.field(name="from")
    to: str = ""
    kind: str = "move"
    parents: list[str] = []
    """lineage parents (``raw:12``, ``decision:3``…)"""


class MovementBatchIn(msgspec.Struct, forbid_unknown_fields=True):
    movements: Annotated[list[MovementIn], Meta(min_length=1, max_length=1000)]


class MovementOut(msgspec.Struct):
    key: str
    status: str
    id: int
    lineage_id: str
    sku: str
    qty: int
    from_: str = msgspec.field(name="from")
    to: str = ""
    kind: str = ""


class MovementBatchOut(msgspec.Struct):
    movements: list[MovementOut]


class ReservationIn(msgspec.Struct, forbid_unknown_fields=True):
    key: Key
    sku: Sku
    location: Annotated[str, Meta(min_length=1, max_length=64)]
    qty: Qty
    order_ref: str = ""
    expires_at: datetime | None = None
    parents: list[str] = []


class SettleIn(msgspec.Struct, forbid_unknown_fields=True):
    parents: list[str] = []


class BalanceOut(msgspec.Struct):
    account: str
    qty: int
    version: int
    updated_at: datetime


class StockOut(msgspec.Struct):
    sku: str
    balances: list[BalanceOut]
    totals: dict[str, int]
    """per bucket, summed over locations"""
    sum: int
    """always 0: every movement debits one account and credits another"""
