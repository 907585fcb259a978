"""The slice of a ledger movement that voucher building needs.

The hub's ledger keeps buckets and accounts; finance only cares which kind of movement it was,
between which location types, for which legal entity, and its references. The hub builds a
`MovementFact` from each movement (keeping the movement id for lineage) and hands it over here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Mapping

LOCATION_TYPES = ("warehouse", "supplier", "customer", "adjustment", "transit", "shop")


@dataclass(frozen=True)
class MovementFact:
    """One stock movement as finance sees it.

    kind: receive | ship | adjust | transfer_out | transfer_in | return | reserve | cancel |
          presale_lock | presale_release | hold | release | pick (others allowed; templates decide).
    from_type / to_type: location types (warehouse, supplier, customer, adjustment, transit, shop).
    entity: the legal entity (= ERP account book) whose stock moves; counterparty_entity the other
    side of an inter-company transfer. unit_cost: purchase cost on receipts, transfer price on
    transfer_in. refs: order_id, entry_order_id, supplier, customer, ... (used in 摘要 and dims).
    """

    movement_id: str
    kind: str
    sku: str
    quantity: Decimal
    occurred_at: datetime | date
    from_type: str
    to_type: str
    entity: str
    warehouse: str | None = None
    shop: str | None = None
    counterparty_entity: str | None = None
    unit_cost: Decimal | None = None
    refs: Mapping[str, str] = field(default_factory=dict)

    @property
    def day(self) -> date:
        return self.occurred_at.date() if isinstance(self.occurred_at, datetime) else self.occurred_at

    @property
    def intercompany(self) -> bool:
        return bool(self.counterparty_entity) and self.counterparty_entity != self.entity

    def attributes(self) -> dict[str, str]:
        """Everything a template may name in a summary or an auxiliary dimension."""
        attrs = {k: str(v) for k, v in self.refs.items() if v is not None}
        attrs.update(
            movement_id=self.movement_id,
            kind=self.kind,
            sku=self.sku,
            qty=_plain(self.quantity),
            entity=self.entity,
            date=self.day.isoformat(),
        )
        for name in ("warehouse", "shop", "counterparty_entity"):
            value = getattr(self, name)
            if value:
                attrs[name] = str(value)
        return attrs


def _plain(q: Decimal | int) -> str:
    d = Decimal(q)
    return str(d.quantize(Decimal(1))) if d == d.to_integral_value() else str(d.normalize())
