"""The sandbox WMS's orders and the confirm messages it composes for them (pure, no I/O).

A delivery order locks stock when created and ships when confirmed; the confirm can be short
(a ratio knob or a per-order override), split into several partial confirms (``confirmType`` 1,
the last one 0) and carries the batches actually picked (first-expiry-first-out). Entry and return
orders put stock on the shelf when confirmed, with over/short receipts and inventory-type splits
(``ZP`` good, ``CC`` damaged, ...) from knobs or a per-order override.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..messages import CONFIRM_FINAL, CONFIRM_PARTIAL
from .stock import Allocation, Batch, StockBook

KINDS = {"delivery": "deliveryOrder", "entry": "entryOrder", "return": "returnOrder"}
CONFIRM_METHOD = {"delivery": "deliveryorder.confirm", "entry": "entryorder.confirm", "return": "returnorder.confirm"}


@dataclass
class OrderLine:
    order_line_no: str
    item_code: str
    plan_qty: int
    inventory_type: str = "ZP"
    batch_code: str = ""
    product_date: str = ""
    expire_date: str = ""
    item_id: str = ""
    allocations: list[Allocation] = field(default_factory=list)


@dataclass
class WmsOrder:
    kind: str  # delivery | entry | return
    code: str
    wms_id: str
    warehouse_code: str
    owner_code: str
    order_type: str
    lines: list[OrderLine]
    status: str = "ACCEPT"  # ACCEPT -> CONFIRMED | CANCELED
    logistics_code: str = ""
    express_code: str = ""
    related_code: str = ""
    picking_policy: str = "FEFO"
    ship_override: dict[str, int] | None = None  # itemCode -> units to ship (delivery)
    short_ratio: float | None = None  # per-order short-ship ratio (delivery)
    receipt_override: list[dict[str, Any]] | None = None  # actual lines (entry/return)
    confirmed_messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    confirm_method: str = ""  # "" = the kind's (stockout.create orders confirm with stockout.confirm)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "code": self.code, "wmsId": self.wms_id, "warehouseCode": self.warehouse_code,
            "status": self.status, "orderType": self.order_type, "expressCode": self.express_code,
            "lines": [{"orderLineNo": ln.order_line_no, "itemCode": ln.item_code, "planQty": ln.plan_qty,
                       "locked": sum(a.quantity for a in ln.allocations)} for ln in self.lines],
        }


@dataclass(frozen=True)
class Knobs:
    """How the sandbox WMS behaves; every field can be changed with ``{"type": "knobs", ...}``."""

    confirm_delay_s: float | None = 0.2  # None: confirm only when told (/_sandbox/events "confirm")
    short_ship_ratio: float = 0.0
    split_shipments: int = 1
    duplicate_confirms: int = 1  # copies of every WMS→hub message
    out_of_order: bool = False  # confirm before answering create; partial confirms in reverse order
    short_receipt_ratio: float = 0.0
    over_receipt_ratio: float = 0.0
    return_damaged_ratio: float = 0.0
    push_format: str = "xml"
    push_retries: int = 3
    refuse_insufficient: bool = False

    def validated(self) -> Knobs:
        for name in ("short_ship_ratio", "short_receipt_ratio", "over_receipt_ratio", "return_damaged_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.split_shipments < 1 or self.duplicate_confirms < 1 or self.push_retries < 0:
            raise ValueError("split_shipments and duplicate_confirms must be >= 1, push_retries >= 0")
        if self.push_format not in ("xml", "json"):
            raise ValueError("push_format must be 'xml' or 'json'")
        if self.confirm_delay_s is not None and self.confirm_delay_s < 0:
            raise ValueError("confirm_delay_s must be >= 0 or null")
        return self


def _split(quantity: int, parts: int) -> list[int]:
    return [quantity * (k + 1) // parts - quantity * k // parts for k in range(parts)]


def _take(picked: list[list[Any]], quantity: int) -> list[tuple[Batch, int]]:
    """Take ``quantity`` units off the front of ``picked`` ([batch, remaining] pairs)."""
    taken: list[tuple[Batch, int]] = []
    for pair in picked:
        if quantity <= 0:
            break
        amount = min(pair[1], quantity)
        if amount:
            taken.append((pair[0], amount))
            pair[1] -= amount
            quantity -= amount
    return taken


def _batch_fields(batches: list[tuple[Batch, int]], inventory_type: str) -> dict[str, Any]:
    with_codes = [(b, q) for b, q in batches if b.batch_code]
    if not with_codes:
        return {}
    out: dict[str, Any] = {}
    if len(with_codes) == 1:
        batch = with_codes[0][0]
        out.update(batchCode=batch.batch_code, productDate=batch.product_date, expireDate=batch.expire_date)
    out["batchs"] = [
        {"batchCode": b.batch_code, "productDate": b.product_date, "expireDate": b.expire_date,
         "inventoryType": inventory_type, "actualQty": q}
        for b, q in with_codes
    ]
    return out


def ship_delivery(order: WmsOrder, stock: StockBook, knobs: Knobs, now_text: str) -> list[tuple[str, dict[str, Any]]]:
    """Ship ``order`` out of ``stock`` and return its ``deliveryorder.confirm`` (``stockout.confirm``)
    messages, in send order."""
    ratio = order.short_ratio if order.short_ratio is not None else knobs.short_ship_ratio
    shipped_per_line: list[list[list[Any]]] = []
    totals: list[int] = []
    for line in order.lines:
        if order.ship_override is not None and line.item_code in order.ship_override:
            target = max(0, min(line.plan_qty, int(order.ship_override[line.item_code])))
        else:
            target = math.floor(line.plan_qty * (1.0 - ratio) + 1e-9)
        shipped = stock.ship(line.allocations, target)
        line.allocations = []
        shipped_per_line.append([[batch, qty] for batch, qty in shipped])
        totals.append(sum(qty for _, qty in shipped))
    parts = knobs.split_shipments if sum(totals) >= knobs.split_shipments else 1
    messages = []
    for k in range(parts):
        final = k == parts - 1
        lines = []
        items = []
        for line, picked, total in zip(order.lines, shipped_per_line, totals, strict=True):
            qty = _split(total, parts)[k]
            if not qty and not final:
                continue
            batches = _take(picked, qty)
            record: dict[str, Any] = {
                "orderLineNo": line.order_line_no, "itemCode": line.item_code, "itemId": line.item_id,
                "inventoryType": line.inventory_type, "planQty": line.plan_qty, "actualQty": qty,
            }
            record.update(_batch_fields(batches, line.inventory_type))
            lines.append(record)
            if qty:
                items.append({"itemCode": line.item_code, "itemId": line.item_id, "quantity": qty})
        head = {
            "deliveryOrderCode": order.code, "deliveryOrderId": order.wms_id, "warehouseCode": order.warehouse_code,
            "ownerCode": order.owner_code, "orderType": order.order_type,
            "status": "DELIVERED" if final else "PARTDELIVERED",
            "outBizCode": f"{order.wms_id}-C{k + 1}", "confirmType": CONFIRM_FINAL if final else CONFIRM_PARTIAL,
            "orderConfirmTime": now_text, "operateTime": now_text,
            "logisticsCode": order.logistics_code, "expressCode": order.express_code,
        }
        package = {"logisticsCode": order.logistics_code, "expressCode": order.express_code,
                   "packageCode": f"{order.wms_id}-P{k + 1}", "items": items}
        messages.append((order.confirm_method or "deliveryorder.confirm", {"deliveryOrder": head, "packages": [package] if items else [],
                                                   "orderLines": lines}))
    order.status = "CONFIRMED"
    return messages


def _receipt_lines(order: WmsOrder, knobs: Knobs) -> list[dict[str, Any]]:
    if order.receipt_override is not None:
        by_item = {line.item_code: line for line in order.lines}
        out = []
        for entry in order.receipt_override:
            line = by_item.get(str(entry.get("itemCode", "")))
            if line is None:
                raise ValueError(f"receipt override names item {entry.get('itemCode')!r} not on order {order.code}")
            out.append({"line": line, "inventoryType": str(entry.get("inventoryType") or line.inventory_type),
                        "actualQty": int(entry.get("actualQty", 0)),
                        "batchCode": str(entry.get("batchCode") or line.batch_code),
                        "productDate": str(entry.get("productDate") or line.product_date),
                        "expireDate": str(entry.get("expireDate") or line.expire_date)})
        return out
    out = []
    for line in order.lines:
        actual = (line.plan_qty + math.floor(line.plan_qty * knobs.over_receipt_ratio + 1e-9)
                  - math.floor(line.plan_qty * knobs.short_receipt_ratio + 1e-9))
        damaged = math.floor(actual * knobs.return_damaged_ratio + 1e-9) if order.kind == "return" else 0
        common = {"line": line, "batchCode": line.batch_code, "productDate": line.product_date,
                  "expireDate": line.expire_date}
        out.append({**common, "inventoryType": line.inventory_type, "actualQty": actual - damaged})
        if damaged:
            out.append({**common, "inventoryType": "CC", "actualQty": damaged})
    return out


def receive(order: WmsOrder, stock: StockBook, knobs: Knobs, now_text: str) -> list[tuple[str, dict[str, Any]]]:
    """Put an entry/return order's goods on the shelf and return its confirm message."""
    lines = []
    for entry in _receipt_lines(order, knobs):
        line: OrderLine = entry["line"]
        if entry["actualQty"]:
            stock.add(order.warehouse_code, line.item_code, entry["actualQty"], inventory_type=entry["inventoryType"],
                      batch_code=entry["batchCode"], product_date=entry["productDate"],
                      expire_date=entry["expireDate"])
        record = {"orderLineNo": line.order_line_no, "itemCode": line.item_code, "itemId": line.item_id,
                  "inventoryType": entry["inventoryType"], "planQty": line.plan_qty, "actualQty": entry["actualQty"]}
        if entry["batchCode"]:
            record.update(batchCode=entry["batchCode"], productDate=entry["productDate"],
                          expireDate=entry["expireDate"])
        lines.append(record)
    code_key = "entryOrderCode" if order.kind == "entry" else "returnOrderCode"
    id_key = "entryOrderId" if order.kind == "entry" else "returnOrderId"
    head: dict[str, Any] = {
        code_key: order.code, id_key: order.wms_id, "warehouseCode": order.warehouse_code,
        "ownerCode": order.owner_code, "orderType": order.order_type, "status": "FULFILLED",
        "outBizCode": f"{order.wms_id}-C1", "confirmType": CONFIRM_FINAL, "operateTime": now_text,
        "orderConfirmTime": now_text, "totalOrderLines": len(lines),
    }
    if order.kind == "return":
        head.update(logisticsCode=order.logistics_code, expressCode=order.express_code,
                    preDeliveryOrderCode=order.related_code)
    order.status = "CONFIRMED"
    return [(CONFIRM_METHOD[order.kind], {KINDS[order.kind]: head, "orderLines": lines})]


def parse_create(kind: str, document: Mapping[str, Any], wms_id: str) -> WmsOrder:
    """Validate a ``*.create`` body into a ``WmsOrder``; ``ValueError`` names the bad field."""
    head_key = KINDS[kind]
    head = document.get(head_key)
    if not isinstance(head, Mapping):
        raise ValueError(f"{head_key} is required")
    code_key = {"delivery": "deliveryOrderCode", "entry": "entryOrderCode", "return": "returnOrderCode"}[kind]
    code = str(head.get(code_key) or "").strip()
    if not code:
        raise ValueError(f"{head_key}.{code_key} is required")
    warehouse = str(head.get("warehouseCode") or "").strip()
    if not warehouse:
        raise ValueError(f"{head_key}.warehouseCode is required")
    raw_lines = document.get("orderLines") or []
    if isinstance(raw_lines, Mapping):
        raw_lines = [raw_lines]
    if not raw_lines:
        raise ValueError("orderLines must hold at least one orderLine")
    lines = []
    for i, raw in enumerate(raw_lines):
        if not isinstance(raw, Mapping):
            raise ValueError(f"orderLines[{i}] must be an element")
        item = str(raw.get("itemCode") or "").strip()
        if not item:
            raise ValueError(f"orderLines[{i}].itemCode is required")
        try:
            plan = int(str(raw.get("planQty", "")).strip())
        except ValueError as exc:
            raise ValueError(f"orderLines[{i}].planQty must be a whole number") from exc
        if plan <= 0:
            raise ValueError(f"orderLines[{i}].planQty must be positive")
        lines.append(OrderLine(
            order_line_no=str(raw.get("orderLineNo") or i + 1), item_code=item, plan_qty=plan,
            inventory_type=str(raw.get("inventoryType") or "ZP"), batch_code=str(raw.get("batchCode") or ""),
            product_date=str(raw.get("productDate") or ""), expire_date=str(raw.get("expireDate") or ""),
            item_id=str(raw.get("itemId") or ""),
        ))
    extend = head.get("extendProps")
    policy = str(extend.get("pickingPolicy", "FEFO")) if isinstance(extend, Mapping) else "FEFO"
    default_type = {"delivery": "JYCK", "entry": "CGRK", "return": "THRK"}[kind]
    return WmsOrder(
        kind=kind, code=code, wms_id=wms_id, warehouse_code=warehouse, owner_code=str(head.get("ownerCode") or ""),
        order_type=str(head.get("orderType") or default_type), lines=lines,
        logistics_code=str(head.get("logisticsCode") or ""), express_code=str(head.get("expressCode") or ""),
        related_code=str(head.get("preDeliveryOrderCode") or ""), picking_policy=policy,
    )
