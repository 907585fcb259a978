"""Typed views of the WMS→ERP Qimen messages and their idempotency keys (pure, no I/O).

The hub receives ``deliveryorder.confirm``, ``stockout.confirm`` (non-trade outbound: transfers out, returns
to supplier), ``entryorder.confirm``, ``returnorder.confirm``,
``stockchange.report`` and ``orderprocess.report`` as XML or JSON; ``codec.decode`` turns either into
the same dict form and the functions here read that dict into dataclasses with integer quantities.

Event ids come from the WMS's own ids so a redelivered message dedupes in the hub inbox:
``qimen:<method>:<order code>:<confirmType>:<outBizCode>``. ``outBizCode`` is Qimen's documented
dedupe key (外部业务编码, 消息ID, 用于去重); ``confirmType`` separates a partial confirm (1) from the
final one (0) of the same order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CONFIRM_METHODS = ("deliveryorder.confirm", "stockout.confirm", "entryorder.confirm", "returnorder.confirm")
OUTBOUND_CONFIRMS = ("deliveryorder.confirm", "stockout.confirm")
STOCKOUT_TYPES = frozenset({"PTCK", "DBCK", "B2BCK", "CGTH", "XNCK"})
"""Outbound order types Qimen creates with ``stockout.create`` (confirmed by ``stockout.confirm``); trade
orders (JYCK, HHCK, BFCK...) go through ``deliveryorder.create``."""
REPORT_METHODS = ("stockchange.report", "orderprocess.report")
INBOUND_METHODS = CONFIRM_METHODS + REPORT_METHODS
CONFIRM_FINAL = "0"  # confirmType 0: the last (or only) confirm of the order
CONFIRM_PARTIAL = "1"  # confirmType 1: more confirms of this order will follow


class MessageError(ValueError):
    """A required field is missing or a quantity is not an integer."""


def short_method(method: str) -> str:
    """``taobao.qimen.deliveryorder.confirm`` → ``deliveryorder.confirm`` (gateways send both)."""
    return method[len("taobao.qimen."):] if method.startswith("taobao.qimen.") else method


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key, "")
    return "" if value is None or isinstance(value, (dict, list)) else str(value).strip()


def _required(record: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(record, key)
    if not value:
        raise MessageError(f"{where}.{key} is required")
    return value


def _int(record: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    raw = _text(record, key)
    if not raw:
        if default is not None:
            return default
        raise MessageError(f"{where}.{key} is required")
    try:
        return int(raw)
    except ValueError:
        try:
            number = float(raw)
        except ValueError as exc:
            raise MessageError(f"{where}.{key}={raw!r} is not a number") from exc
        if number != int(number):
            raise MessageError(f"{where}.{key}={raw!r} is not a whole quantity")
        return int(number)


def _records(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = document.get(key) or []
    if isinstance(value, Mapping):
        value = [value]
    return [entry for entry in value if isinstance(entry, Mapping)]


@dataclass(frozen=True)
class BatchQty:
    batch_code: str
    quantity: int
    inventory_type: str = "ZP"
    product_date: str = ""
    expire_date: str = ""


@dataclass(frozen=True)
class ConfirmLine:
    item_code: str
    actual_qty: int
    plan_qty: int | None = None
    order_line_no: str = ""
    item_id: str = ""
    inventory_type: str = "ZP"
    batch_code: str = ""
    product_date: str = ""
    expire_date: str = ""
    batches: tuple[BatchQty, ...] = ()


@dataclass(frozen=True)
class OrderConfirm:
    """A delivery, entry or return order confirmation (the WMS did it, with actual quantities)."""

    method: str
    order_code: str
    order_id: str
    warehouse_code: str
    owner_code: str
    order_type: str
    status: str
    confirm_type: str
    out_biz_code: str
    operate_time: str
    lines: tuple[ConfirmLine, ...]
    logistics_code: str = ""
    express_code: str = ""
    related_order_code: str = ""  # returnorder: preDeliveryOrderCode
    packages: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)

    @property
    def is_final(self) -> bool:
        return self.confirm_type != CONFIRM_PARTIAL


@dataclass(frozen=True)
class StockChange:
    """One line of a stockchange.report: a signed quantity change the WMS made on its own."""

    out_biz_code: str
    warehouse_code: str
    owner_code: str
    item_code: str
    inventory_type: str
    quantity: int
    order_code: str = ""
    order_type: str = ""
    batch_code: str = ""
    product_date: str = ""
    expire_date: str = ""
    change_time: str = ""
    remark: str = ""


@dataclass(frozen=True)
class OrderProcess:
    """orderprocess.report: the WMS's processing status of an order (ACCEPT, PACKAGE, DELIVERED...)."""

    order_code: str
    order_id: str
    order_type: str
    warehouse_code: str
    process_status: str
    operate_time: str
    out_biz_code: str = ""


_ORDER_KEYS = {
    "deliveryorder.confirm": ("deliveryOrder", "deliveryOrderCode", "deliveryOrderId"),
    "stockout.confirm": ("deliveryOrder", "deliveryOrderCode", "deliveryOrderId"),
    "entryorder.confirm": ("entryOrder", "entryOrderCode", "entryOrderId"),
    "returnorder.confirm": ("returnOrder", "returnOrderCode", "returnOrderId"),
}


def _line(record: Mapping[str, Any], where: str) -> ConfirmLine:
    batches = tuple(
        BatchQty(
            batch_code=_text(b, "batchCode"),
            quantity=_int(b, "actualQty", f"{where}.batch", default=_int(b, "quantity", f"{where}.batch", default=0)),
            inventory_type=_text(b, "inventoryType") or _text(record, "inventoryType") or "ZP",
            product_date=_text(b, "productDate"),
            expire_date=_text(b, "expireDate"),
        )
        for b in _records(record, "batchs")
    )
    plan = _text(record, "planQty")
    return ConfirmLine(
        item_code=_required(record, "itemCode", where),
        actual_qty=_int(record, "actualQty", where),
        plan_qty=_int(record, "planQty", where) if plan else None,
        order_line_no=_text(record, "orderLineNo"),
        item_id=_text(record, "itemId"),
        inventory_type=_text(record, "inventoryType") or "ZP",
        batch_code=_text(record, "batchCode"),
        product_date=_text(record, "productDate"),
        expire_date=_text(record, "expireDate"),
        batches=batches,
    )


def parse_order_confirm(method: str, document: Mapping[str, Any]) -> OrderConfirm:
    """Read a ``*.confirm`` body (dict form) into an ``OrderConfirm``."""
    method = short_method(method)
    if method not in _ORDER_KEYS:
        raise MessageError(f"{method!r} is not an order confirm; expected one of {', '.join(_ORDER_KEYS)}")
    head_key, code_key, id_key = _ORDER_KEYS[method]
    head = document.get(head_key)
    if not isinstance(head, Mapping):
        raise MessageError(f"{head_key} is required")
    lines = tuple(_line(record, f"orderLines[{i}]") for i, record in enumerate(_records(document, "orderLines")))
    return OrderConfirm(
        method=method,
        order_code=_required(head, code_key, head_key),
        order_id=_text(head, id_key),
        warehouse_code=_text(head, "warehouseCode"),
        owner_code=_text(head, "ownerCode"),
        order_type=_text(head, "orderType"),
        status=_text(head, "status"),
        confirm_type=_text(head, "confirmType") or CONFIRM_FINAL,
        out_biz_code=_text(head, "outBizCode"),
        operate_time=_text(head, "operateTime") or _text(head, "orderConfirmTime"),
        lines=lines,
        logistics_code=_text(head, "logisticsCode"),
        express_code=_text(head, "expressCode"),
        related_order_code=_text(head, "preDeliveryOrderCode"),
        packages=tuple(_records(document, "packages")),
    )


def _out_biz_code(document: Mapping[str, Any], item: Mapping[str, Any], index: int) -> str:
    """The item's own outBizCode, else the report's suffixed by position; one of them is required."""
    own = _text(item, "outBizCode")
    if own:
        return own
    top = _text(document, "outBizCode")
    if top:
        return f"{top}#{index}"
    raise MessageError(f"items[{index}].outBizCode is required (Qimen's dedupe key)")


def parse_stock_changes(document: Mapping[str, Any]) -> list[StockChange]:
    """Read a ``stockchange.report`` body into its lines (top-level fields fill per-item blanks)."""
    items = _records(document, "items")
    if not items:
        raise MessageError("items is required and must hold at least one item")
    out = []
    for i, item in enumerate(items):
        where = f"items[{i}]"

        def pick(key: str, item: Mapping[str, Any] = item) -> str:
            return _text(item, key) or _text(document, key)

        out.append(
            StockChange(
                out_biz_code=_out_biz_code(document, item, i),
                warehouse_code=pick("warehouseCode"),
                owner_code=pick("ownerCode"),
                item_code=_required(item, "itemCode", where),
                inventory_type=_text(item, "inventoryType") or "ZP",
                quantity=_int(item, "quantity", where),
                order_code=pick("orderCode"),
                order_type=pick("orderType"),
                batch_code=_text(item, "batchCode"),
                product_date=_text(item, "productDate"),
                expire_date=_text(item, "expireDate"),
                change_time=_text(item, "changeTime"),
                remark=pick("remark"),
            )
        )
    return out


def parse_order_process(document: Mapping[str, Any]) -> OrderProcess:
    order = document.get("order")
    process = document.get("process")
    if not isinstance(order, Mapping) or not isinstance(process, Mapping):
        raise MessageError("order and process are required")
    return OrderProcess(
        order_code=_required(order, "orderCode", "order"),
        order_id=_text(order, "orderId"),
        order_type=_text(order, "orderType"),
        warehouse_code=_text(order, "warehouseCode"),
        process_status=_required(process, "processStatus", "process"),
        operate_time=_text(process, "operateTime"),
        out_biz_code=_text(process, "outBizCode") or _text(order, "outBizCode"),
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def event_id(method: str, document: Mapping[str, Any]) -> str:
    """The hub inbox dedupe key of one inbound message, from the WMS's own ids.

    Raises ``MessageError`` if the message lacks the ids Qimen requires for it.
    """
    method = short_method(method)
    if method in _ORDER_KEYS:
        confirm = parse_order_confirm(method, document)
        out_biz = confirm.out_biz_code or _digest(repr(sorted((ln.item_code, ln.actual_qty) for ln in confirm.lines)))
        return f"qimen:{method}:{confirm.order_code}:{confirm.confirm_type}:{out_biz}"
    if method == "stockchange.report":
        codes = sorted(change.out_biz_code for change in parse_stock_changes(document))
        joined = ",".join(codes)
        return f"qimen:{method}:{joined if len(joined) <= 120 else _digest(joined)}"
    if method == "orderprocess.report":
        process = parse_order_process(document)
        tail = process.out_biz_code or f"{process.process_status}:{process.operate_time}"
        return f"qimen:{method}:{process.order_code}:{tail}"
    raise MessageError(f"unsupported inbound method {method!r}; expected one of {', '.join(INBOUND_METHODS)}")
