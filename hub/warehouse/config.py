"""Declared warehouse rules (routing.yaml, thresholds.yaml) and the pure decisions made from them.

No I/O beyond reading the two YAML files once: the routing choice and the threshold lookup take plain
values, so they are testable without a database.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SHORT_POLICIES = ("release", "backorder")
STRATEGIES = ("priority", "nearest")


class RuleError(ValueError):
    """A routing or threshold rule is malformed; the message names the field."""


@lru_cache(maxsize=4)
def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((HERE / name).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise RuleError(f"{name} must hold a mapping")
    return data


@dataclass(frozen=True)
class RoutingRule:
    enabled: bool
    strategy: str
    priority: tuple[str, ...]
    warehouses: dict[str, str]  # location -> wms source name
    distances: dict[str, dict[str, float]]
    short_shipment: str
    inspect_skus: tuple[str, ...] = ()

    def wms_of(self, location: str) -> str | None:
        return self.warehouses.get(location)

    def needs_inspection(self, sku: str) -> bool:
        return any(fnmatch.fnmatchcase(sku, pattern) for pattern in self.inspect_skus)

    def candidates(self, province: str = "") -> list[str]:
        """Warehouses in the order they are tried for an order shipping to ``province``."""
        order = [w for w in self.priority if w in self.warehouses] + [w for w in self.warehouses
                                                                      if w not in self.priority]
        if self.strategy == "nearest" and province:
            table = _province_row(self.distances, province)
            if table:
                rank = {w: i for i, w in enumerate(order)}
                order.sort(key=lambda w: (float(table.get(w, float("inf"))), rank[w]))
        return order


def _province_row(distances: Mapping[str, Mapping[str, float]], province: str) -> Mapping[str, float]:
    if province in distances:
        return distances[province]
    for name, row in distances.items():  # 浙江 vs 浙江省, 上海 vs 上海市
        if name.rstrip("省市") == province.rstrip("省市"):
            return row
    return {}


def routing_rule(override: Mapping[str, Any] | None = None) -> RoutingRule:
    """The file's rule with a source's ``settings.routing`` laid over it (an override enables routing)."""
    data = dict(_load("routing.yaml"))
    if override:
        data.update(dict(override))
        if "enabled" not in override:
            data["enabled"] = True
    strategy = str(data.get("strategy", "priority"))
    if strategy not in STRATEGIES:
        raise RuleError(f"routing.strategy {strategy!r} must be one of {', '.join(STRATEGIES)}")
    short = str(data.get("short_shipment", "release"))
    if short not in SHORT_POLICIES:
        raise RuleError(f"routing.short_shipment {short!r} must be one of {', '.join(SHORT_POLICIES)}")
    raw_wh = data.get("warehouses") or {}
    if not isinstance(raw_wh, Mapping):
        raise RuleError("routing.warehouses must map a location to {wms: <qimen source>}")
    warehouses: dict[str, str] = {}
    for location, spec in raw_wh.items():
        wms = spec.get("wms") if isinstance(spec, Mapping) else spec
        if not wms:
            raise RuleError(f"routing.warehouses.{location} names no wms source")
        warehouses[str(location)] = str(wms)
    return RoutingRule(
        enabled=bool(data.get("enabled", False)), strategy=strategy,
        priority=tuple(str(w) for w in data.get("priority") or ()), warehouses=warehouses,
        distances={str(p): {str(w): float(d) for w, d in (row or {}).items()}
                   for p, row in (data.get("distances") or {}).items()},
        short_shipment=short, inspect_skus=tuple(str(s) for s in data.get("inspect_skus") or ()),
    )  # fmt: skip


def choose_warehouses(
    rule: RoutingRule, lines: Sequence[tuple[str, int]], free: Mapping[tuple[str, str], int], province: str = ""
) -> dict[str, str]:
    """sku → warehouse for an order's lines. The whole order at the first candidate that can ship all of it;
    else each line at the first candidate with enough free stock; else the first candidate."""
    candidates = rule.candidates(province)
    if not candidates:
        return {}
    for warehouse in candidates:
        if all(free.get((sku, warehouse), 0) >= qty for sku, qty in lines):
            return {sku: warehouse for sku, _ in lines}
    chosen: dict[str, str] = {}
    for sku, qty in lines:
        chosen[sku] = next((w for w in candidates if free.get((sku, w), 0) >= qty), candidates[0])
    return chosen


PROVINCE_KEYS = ("receiver_state", "receiverProvince", "receiver_province", "province", "province_name",
                 "provinceName")


def province_of(payload: Any, depth: int = 0) -> str:
    """The receiver's province in a marketplace order payload (Taobao receiver_state, Douyin
    post_addr.province.name, Shopify shipping_address.province...), or ''."""
    if depth > 6:
        return ""
    if isinstance(payload, Mapping):
        for key in PROVINCE_KEYS:
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping) and isinstance(value.get("name"), str):
                return str(value["name"])
        for value in payload.values():
            if isinstance(value, (Mapping, list)):
                found = province_of(value, depth + 1)
                if found:
                    return found
    elif isinstance(payload, list):
        for value in payload[:50]:
            found = province_of(value, depth + 1)
            if found:
                return found
    return ""


@dataclass(frozen=True)
class Threshold:
    sku: str
    warehouse: str
    levels: dict[str, int] = field(default_factory=dict)  # level -> threshold


def thresholds(extra: Sequence[Mapping[str, Any]] = ()) -> list[Threshold]:
    """Rules from sources (first) then thresholds.yaml."""
    rules = []
    for i, raw in enumerate([*extra, *(_load("thresholds.yaml").get("rules") or [])]):
        if not isinstance(raw, Mapping):
            raise RuleError(f"threshold rule {i} must be a mapping")
        levels = {level: int(raw[level]) for level in ("low", "safety") if raw.get(level) is not None}
        rules.append(Threshold(str(raw.get("sku", "*")), str(raw.get("warehouse", "*")), levels))
    return rules


def threshold_for(rules: Sequence[Threshold], sku: str, warehouse: str) -> dict[str, int]:
    for rule in rules:
        if fnmatch.fnmatchcase(sku, rule.sku) and fnmatch.fnmatchcase(warehouse, rule.warehouse):
            return rule.levels
    return {}


def fefo(batches: Sequence[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """Batches ``(code, expire_date, qty)`` with stock, first expiry first (no date: last)."""
    usable = [b for b in batches if b[2] > 0]
    usable.sort(key=lambda b: (b[1] or "9999-12-31", b[0]))
    return [{"batchCode": code, "expireDate": expire, "quantity": qty} for code, expire, qty in usable]
