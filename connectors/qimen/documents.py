"""Build the ERP→WMS request bodies (dict form) from the hub's plain values (pure, no I/O).

Lines are mappings with Qimen's own field names: ``{"itemCode": "SKU-A", "planQty": 2}`` plus
optional ``orderLineNo``, ``inventoryType`` (default ZP), ``batchCode``, ``productDate``,
``expireDate``, ``itemId``, ``ownerCode``. A delivery order carries our picking hint
``extendProps.pickingPolicy = FEFO`` (first expiry, first out) unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["cancel_order", "delivery_order", "entry_order", "inventory_criteria", "return_order"]


def _lines(lines: Sequence[Mapping[str, Any]], owner_code: str) -> list[dict[str, Any]]:
    if not lines:
        raise ValueError("an order needs at least one line")
    out = []
    for i, line in enumerate(lines):
        if not line.get("itemCode"):
            raise ValueError(f"line {i} has no itemCode")
        qty = int(line.get("planQty", 0))
        if qty <= 0:
            raise ValueError(f"line {i} ({line['itemCode']}) planQty must be positive, got {qty}")
        record = {"orderLineNo": str(line.get("orderLineNo") or i + 1), "ownerCode": line.get("ownerCode") or owner_code,
                  "itemCode": str(line["itemCode"]), "planQty": qty,
                  "inventoryType": line.get("inventoryType") or "ZP"}
        for key in ("itemId", "batchCode", "productDate", "expireDate", "actualPrice", "sourceOrderCode",
                    "subSourceOrderCode"):
            if line.get(key):
                record[key] = line[key]
        out.append(record)
    return out


def delivery_order(
    code: str,
    *,
    warehouse_code: str,
    lines: Sequence[Mapping[str, Any]],
    owner_code: str = "",
    order_type: str = "JYCK",
    source_platform_code: str = "",
    shop_nick: str = "",
    logistics_code: str = "",
    receiver: Mapping[str, Any] | None = None,
    create_time: str = "",
    picking_policy: str = "FEFO",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``deliveryorder.create`` body (outbound)."""
    head: dict[str, Any] = {"deliveryOrderCode": code, "orderType": order_type, "warehouseCode": warehouse_code,
                            "ownerCode": owner_code, "sourcePlatformCode": source_platform_code, "shopNick": shop_nick,
                            "createTime": create_time, "logisticsCode": logistics_code}
    head = {k: v for k, v in head.items() if v}
    head["receiverInfo"] = dict(receiver or {"name": "-", "mobile": "-", "province": "-", "city": "-",
                                             "detailAddress": "-"})
    head.update(dict(extra or {}))
    if picking_policy:
        head["extendProps"] = {"pickingPolicy": picking_policy}
    return {"deliveryOrder": head, "orderLines": _lines(lines, owner_code)}


def entry_order(
    code: str,
    *,
    warehouse_code: str,
    lines: Sequence[Mapping[str, Any]],
    owner_code: str = "",
    order_type: str = "CGRK",
    purchase_order_code: str = "",
    supplier_code: str = "",
    expect_start_time: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``entryorder.create`` body (inbound: CGRK purchase, DBRK transfer, QTRK other)."""
    head = {"entryOrderCode": code, "ownerCode": owner_code, "warehouseCode": warehouse_code, "orderType": order_type,
            "purchaseOrderCode": purchase_order_code, "supplierCode": supplier_code,
            "expectStartTime": expect_start_time}
    head = {k: v for k, v in head.items() if v}
    head.update(dict(extra or {}))
    return {"entryOrder": head, "orderLines": _lines(lines, owner_code)}


def return_order(
    code: str,
    *,
    warehouse_code: str,
    lines: Sequence[Mapping[str, Any]],
    owner_code: str = "",
    order_type: str = "THRK",
    pre_delivery_order_code: str = "",
    logistics_code: str = "",
    express_code: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``returnorder.create`` body (the expected inbound of a customer return)."""
    head = {"returnOrderCode": code, "warehouseCode": warehouse_code, "ownerCode": owner_code,
            "orderType": order_type, "preDeliveryOrderCode": pre_delivery_order_code,
            "logisticsCode": logistics_code, "expressCode": express_code}
    head = {k: v for k, v in head.items() if v}
    head.update(dict(extra or {}))
    return {"returnOrder": head, "orderLines": _lines(lines, owner_code)}


def cancel_order(code: str, *, warehouse_code: str, order_type: str = "JYCK", owner_code: str = "",
                 order_id: str = "", reason: str = "") -> dict[str, Any]:
    """An ``order.cancel`` body (orderType says which kind of order: JYCK, CGRK, THRK...)."""
    body = {"warehouseCode": warehouse_code, "ownerCode": owner_code, "orderCode": code, "orderId": order_id,
            "orderType": order_type, "cancelReason": reason}
    return {k: v for k, v in body.items() if v}


def inventory_criteria(warehouse_code: str = "", item_codes: Sequence[str] = (), *, owner_code: str = "",
                       inventory_type: str = "") -> list[dict[str, Any]]:
    """``criteriaList`` for inventory.query: one criteria per item, or one for the whole warehouse."""
    base = {k: v for k, v in {"warehouseCode": warehouse_code, "ownerCode": owner_code,
                              "inventoryType": inventory_type}.items() if v}
    return [{**base, "itemCode": code} for code in item_codes] or [base]
