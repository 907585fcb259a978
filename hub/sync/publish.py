"""Publish rules: what a channel listing may sell, from the ledger. Pure arithmetic, no I/O.

A listing's rule lives in its source's ``listings[sku]`` (merged over the source's ``settings.publish``
defaults)::

    listings:
      SKU-A: {inventory_item_id: 1, location_id: 9,      # platform ids (connector's business)
              warehouses: [WH-SH, WH-BJ],                  # which warehouses roll up (default: all)
              safety_stock: 2, share: 0.5, buffer: 1,      # floor((free - safety) * share) - buffer
              min: 0, max: 500, stop_below: 3,             # caps; below stop_below publish 0
              presale: 20, virtual: null,                  # presale units on top; virtual = made to order
              override: {qty: 10, until: "2026-12-01T00:00:00+00:00", reason: "campaign"}}

Every figure comes with the steps that produced it, so an operator can see why Taobao shows 7.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


class PublishRuleError(ValueError):
    """A publish rule field is malformed; the message names the field."""


@dataclass(frozen=True)
class PublishRule:
    warehouses: tuple[str, ...] | None = None
    safety_stock: int = 0
    share: Decimal = Decimal(1)
    buffer: int = 0
    min: int | None = None
    max: int | None = None
    stop_below: int | None = None
    presale: int = 0
    virtual: int | None = None
    override_qty: int | None = None
    override_until: datetime | None = None
    settle_seconds: float = 2.0
    """Absolute-only platforms: how long an increase waits for in-flight orders to arrive first."""

    @classmethod
    def from_config(cls, defaults: Mapping[str, Any], listing: Mapping[str, Any]) -> PublishRule:
        doc = {**defaults, **listing}
        try:
            warehouses = doc.get("warehouses")
            override = doc.get("override") or {}
            until = override.get("until")
            rule = cls(
                warehouses=tuple(str(w) for w in warehouses) if warehouses else None,
                safety_stock=int(doc.get("safety_stock", 0)),
                share=Decimal(str(doc.get("share", 1))),
                buffer=int(doc.get("buffer", 0)),
                min=_opt_int(doc.get("min")),
                max=_opt_int(doc.get("max")),
                stop_below=_opt_int(doc.get("stop_below")),
                presale=int(doc.get("presale", 0)),
                virtual=_opt_int(doc.get("virtual")),
                override_qty=_opt_int(override.get("qty")),
                override_until=datetime.fromisoformat(until) if isinstance(until, str) else until,
                settle_seconds=float(doc.get("settle_seconds", 2.0)),
            )
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise PublishRuleError(f"bad publish rule {dict(doc)!r}: {exc}") from None
        if not Decimal(0) <= rule.share <= Decimal(1):
            raise PublishRuleError(f"share must be between 0 and 1, got {rule.share}")
        if rule.override_until is not None and rule.override_until.tzinfo is None:
            raise PublishRuleError("override.until must include a timezone")
        return rule


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Target:
    value: int
    steps: list[str] = field(default_factory=list)

    def explain(self) -> str:
        return "; ".join(self.steps)


def sellable(rule: PublishRule, free_by_location: Mapping[str, int], *, now: datetime) -> Target:
    """The figure a listing should show now."""
    if rule.override_qty is not None and (rule.override_until is None or now < rule.override_until):
        until = f" until {rule.override_until.isoformat()}" if rule.override_until else ""
        return Target(max(0, rule.override_qty), [f"manual override {rule.override_qty}{until}"])
    if rule.virtual is not None:
        return Target(max(0, rule.virtual), [f"virtual stock {rule.virtual} (made to order)"])
    locations = sorted(free_by_location) if rule.warehouses is None else list(rule.warehouses)
    free = sum(max(0, free_by_location.get(loc, 0)) for loc in locations)
    steps = [f"free {free} over {', '.join(locations) or 'no warehouse'}"]
    value = math.floor((Decimal(free - rule.safety_stock)) * rule.share)
    if rule.safety_stock or rule.share != 1:
        steps.append(f"floor(({free} - safety {rule.safety_stock}) × share {rule.share}) = {value}")
    if rule.buffer:
        value -= rule.buffer
        steps.append(f"- buffer {rule.buffer} = {value}")
    if rule.stop_below is not None and value < rule.stop_below:
        steps.append(f"{value} below stop-selling threshold {rule.stop_below}: 0")
        value = 0
    if rule.presale:
        value += rule.presale
        steps.append(f"+ presale {rule.presale} = {value}")
    if rule.max is not None and value > rule.max:
        value = rule.max
        steps.append(f"capped at max {rule.max}")
    if rule.min is not None and value < rule.min and value > 0:
        value = rule.min
        steps.append(f"raised to min {rule.min}")
    if value < 0:
        steps.append(f"{value} is negative: 0")
        value = 0
    return Target(value, steps)


def over_promised(shares: Mapping[str, Decimal]) -> Decimal:
    """How far the shares of one warehouse pool across shops exceed 1 (0 when they do not)."""
    total = sum(shares.values(), Decimal(0))
    return max(Decimal(0), total - 1)
