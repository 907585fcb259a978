"""Ledger movement → `MovementFact`s, the slice finance needs (pure: no I/O).

Accounts ``LOC/bucket`` are warehouse stock of the entity that owns ``LOC``; ``supplier``,
``customer``, ``adjustment``, ``transit`` are the virtual counterparts. Two rules live here rather
than in the templates because they follow from the ledger's shape, not from accounting policy:

* a movement between two buckets/locations of the SAME entity never changes that entity's stock
  value (reserve, pick, hold, damage, internal move): no fact, no voucher;
* a direct move between locations of two DIFFERENT entities is an inter-company transfer: it becomes
  a ``transfer_out`` (entity A → transit) and a ``transfer_in`` (transit → entity B) pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.vouchers import MovementFact
from hub.vouchers.config import VoucherConfig


@dataclass(frozen=True)
class MovementInput:
    """A movements-table row plus what finance knows about it (``MovementFinanceInfo``)."""

    id: int
    key: str
    kind: str
    sku: str
    qty: int
    from_account: str
    to_account: str
    created_at: datetime
    unit_cost: Decimal | None = None
    entity: str | None = None
    counterparty_entity: str | None = None
    shop: str | None = None
    refs: Mapping[str, Any] | None = None


def split_account(account: str) -> tuple[str, str | None]:
    """``WH-SH/free`` → (``warehouse``, ``WH-SH``); ``supplier`` → (``supplier``, None)."""
    location, slash, _ = account.partition("/")
    return ("warehouse", location) if slash else (account, None)


def facts_for(m: MovementInput, config: VoucherConfig) -> list[MovementFact]:
    """The facts a movement contributes (empty when it has no financial meaning)."""
    from_type, from_loc = split_account(m.from_account)
    to_type, to_loc = split_account(m.to_account)
    kind = config.kind_aliases.get(m.kind, m.kind)
    occurred = m.created_at.astimezone(config.zone)
    refs = {str(k): str(v) for k, v in (m.refs or {}).items() if v is not None}
    refs.setdefault("movement_key", m.key)
    common: dict[str, Any] = {"sku": m.sku, "quantity": Decimal(m.qty), "occurred_at": occurred, "shop": m.shop,
                              "refs": refs}  # fmt: skip
    if from_loc and to_loc:
        a, b = config.entity_of(from_loc), config.entity_of(to_loc)
        if a == b:
            return []
        return [
            MovementFact(f"{m.id}", "transfer_out", from_type="warehouse", to_type="transit", entity=a,
                         warehouse=from_loc, counterparty_entity=b, **common),
            MovementFact(f"{m.id}", "transfer_in", from_type="transit", to_type="warehouse", entity=b,
                         warehouse=to_loc, counterparty_entity=a, unit_cost=m.unit_cost, **common),
        ]  # fmt: skip
    location = from_loc or to_loc
    entity = m.entity or (config.entity_of(location) if location else config.default_entity)
    return [
        MovementFact(f"{m.id}", kind, from_type=from_type, to_type=to_type, entity=entity, warehouse=location,
                     counterparty_entity=m.counterparty_entity, unit_cost=m.unit_cost, **common)
    ]  # fmt: skip


def movement_label(m: MovementInput) -> str:
    return f"movement {m.id} ({m.kind} {m.qty} × {m.sku}: {m.from_account} → {m.to_account})"
