"""Stock valuation: moving-average cost (移动加权平均) and standard cost (标准成本).

Pure and deterministic: the hub feeds movements in ledger order and persists `snapshot()`.
Money is Decimal, rounded to cents half-up at each valuation; the running total value is the
authority and the unit cost is derived from it, so rounding never leaks value: issuing the
last unit of a sku issues exactly the remaining value (value conservation).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Protocol

from connectors.vouchers.model import money

ZERO = Decimal("0")


class CostingError(ValueError):
    """A movement cannot be valued (issue beyond stock held, unknown standard cost, bad quantity)."""


@dataclass(frozen=True)
class Valuation:
    """Value of one movement. `variance` is actual − standard on receipts under standard cost."""

    amount: Decimal
    unit_cost: Decimal
    variance: Decimal = Decimal("0.00")


@dataclass
class Position:
    quantity: Decimal = ZERO
    value: Decimal = Decimal("0.00")
    last_unit_cost: Decimal | None = None

    @property
    def unit_cost(self) -> Decimal | None:
        if self.quantity > 0:
            return self.value / self.quantity
        return self.last_unit_cost


class Costing(Protocol):
    def receive(self, sku: str, quantity: Decimal, unit_cost: Decimal) -> Valuation: ...
    def issue(self, sku: str, quantity: Decimal) -> Valuation: ...
    def gain(self, sku: str, quantity: Decimal, unit_cost: Decimal | None = None) -> Valuation: ...


def _qty(quantity: Decimal | int) -> Decimal:
    q = Decimal(quantity)
    if q <= 0:
        raise CostingError(f"quantity must be positive, got {q}")
    return q


class MovingAverageCost:
    """Moving-average unit cost per sku (optionally per account book: use `f"{book}|{sku}"` as sku)."""

    def __init__(self, positions: Mapping[str, Position] | None = None) -> None:
        self.positions: dict[str, Position] = dict(positions or {})

    def position(self, sku: str) -> Position:
        return self.positions.setdefault(sku, Position())

    def receive(self, sku: str, quantity: Decimal | int, unit_cost: Decimal | int | str) -> Valuation:
        """Add stock at its purchase cost (entry-order or ERP cost)."""
        q, cost = _qty(quantity), Decimal(unit_cost)
        if cost < 0:
            raise CostingError(f"unit cost for {sku} must not be negative, got {cost}")
        amount = money(q * cost)
        pos = self.position(sku)
        pos.quantity += q
        pos.value += amount
        pos.last_unit_cost = pos.value / pos.quantity
        return Valuation(amount=amount, unit_cost=cost)

    def issue(self, sku: str, quantity: Decimal | int) -> Valuation:
        """Remove stock (shipment, loss) at the current average; the last unit takes the remainder."""
        q = _qty(quantity)
        pos = self.position(sku)
        if q > pos.quantity:
            raise CostingError(f"cannot issue {q} of {sku}: only {pos.quantity} valued in stock")
        amount = pos.value if q == pos.quantity else money(pos.value * q / pos.quantity)
        unit = amount / q
        pos.quantity -= q
        pos.value -= amount
        return Valuation(amount=amount, unit_cost=unit)

    def gain(self, sku: str, quantity: Decimal | int, unit_cost: Decimal | int | str | None = None) -> Valuation:
        """Add stock found (盘盈) at the current average, else the last known or the given cost."""
        pos = self.position(sku)
        cost = pos.unit_cost if pos.unit_cost is not None else unit_cost
        if cost is None:
            raise CostingError(f"no cost known for {sku}: receive it first or pass unit_cost")
        return self.receive(sku, quantity, cost)

    @classmethod
    def from_snapshot(cls, snap: Mapping[str, Mapping[str, str]]) -> MovingAverageCost:
        """Rebuild from `snapshot()` output (the hub persists it between runs)."""
        return cls({
            sku: Position(Decimal(p["quantity"]), Decimal(p["value"]),
                          None if p.get("last_unit_cost") in (None, "None") else Decimal(p["last_unit_cost"]))
            for sku, p in snap.items()
        })

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {
            sku: {"quantity": str(p.quantity), "value": str(p.value), "last_unit_cost": str(p.last_unit_cost)}
            for sku, p in self.positions.items()
        }


class StandardCost:
    """Standard cost per sku: stock is valued at standard, receipts book the price variance."""

    def __init__(self, standard: Mapping[str, Decimal | int | str]) -> None:
        self.standard = {sku: Decimal(v) for sku, v in standard.items()}

    def _std(self, sku: str) -> Decimal:
        try:
            return self.standard[sku]
        except KeyError:
            raise CostingError(f"no standard cost configured for {sku}") from None

    def receive(self, sku: str, quantity: Decimal | int, unit_cost: Decimal | int | str) -> Valuation:
        q, std = _qty(quantity), self._std(sku)
        amount = money(q * std)
        return Valuation(amount=amount, unit_cost=std, variance=money(q * Decimal(unit_cost)) - amount)

    def issue(self, sku: str, quantity: Decimal | int) -> Valuation:
        std = self._std(sku)
        return Valuation(amount=money(_qty(quantity) * std), unit_cost=std)

    def gain(self, sku: str, quantity: Decimal | int, unit_cost: Decimal | int | str | None = None) -> Valuation:
        return self.issue(sku, quantity)
