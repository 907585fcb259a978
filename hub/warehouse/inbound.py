"""Inbound: purchase receipts, transfers between warehouses and customer returns, through the WMS.

An inbound order is stored and its ``entryorder.create`` / ``returnorder.create`` enqueued in one
transaction; a transfer books ``W1/free → transit`` at once (the goods are on the road from then on and
show as in transit until the receiving warehouse confirms). The confirmation books what actually arrived,
line by line, into the bucket its inventory type says: ZP good → free (quality_hold when the item needs
inspection), CC/JS/XS → damaged, DJ → quality_hold. Short and over receipts are booked as reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.qimen.messages import OrderConfirm
from hub import lineage
from hub.domain.errors import InvalidRequest, WouldOverdraw
from hub.domain.ledger import make_movement
from hub.jobs import outbox
from hub.services.ledger import apply_movements
from hub.storage import locks
from hub.storage.models import Source, utcnow
from hub.storage.models_warehouse import DeliveryLine, DeliveryOrder, InboundLine, InboundOrder, StockBatch
from hub.storage.sql import insert
from hub.vouchers.queries import parse_unit_cost, record_unit_cost
from hub.warehouse.outbound import book, plan_transfer_out

SEND_JOB = "warehouse.send_inbound"
ORDER_TYPES = {"purchase": "CGRK", "transfer": "DBRK", "return": "THRK"}
FROM_ACCOUNT = {"purchase": ("supplier", "receive"), "transfer": ("transit", "transfer_in"),
                "return": ("customer", "return")}
GOOD_TYPES = ("ZP", "")
DAMAGED_TYPES = ("CC", "JS", "XS")


def bucket_for(inventory_type: str, *, inspect: bool) -> str | None:
    """The ledger bucket of a received inventory type; None for types the ledger does not hold (ZT)."""
    kind = (inventory_type or "ZP").upper()
    if kind in GOOD_TYPES:
        return "quality_hold" if inspect else "free"
    if kind in DAMAGED_TYPES:
        return "damaged"
    if kind == "DJ":
        return "quality_hold"
    return None


@dataclass(frozen=True)
class PlannedLine:
    sku: str
    qty: int
    inspect: bool = False
    unit_cost: str | None = None


async def create(
    session: AsyncSession, *, kind: str, code: str, warehouse: str, wms_source: str, lines: Sequence[PlannedLine],
    from_warehouse: str = "", related_code: str = "", source: str = "", guarded_buckets: Sequence[str],
    parents: Sequence[str] = (), from_wms_source: str = "",
) -> tuple[InboundOrder, bool]:  # fmt: skip
    """Store an inbound order (idempotent by code) and enqueue its sending; ``(order, created)``.

    A transfer takes its units out of ``from_warehouse``: at once (``free → transit``) when no WMS runs
    that warehouse, or, with ``from_wms_source``, through a DBCK outbound order to that WMS whose
    confirmation moves what really left into transit."""
    if kind not in ORDER_TYPES:
        raise InvalidRequest(f"inbound kind {kind!r} must be one of {', '.join(ORDER_TYPES)}", field="kind")
    if not lines:
        raise InvalidRequest("an inbound order needs at least one line", field="lines")
    if kind == "transfer" and (not from_warehouse or from_warehouse == warehouse):
        raise InvalidRequest("a transfer needs from_warehouse, different from warehouse", field="from_warehouse")
    if from_wms_source and kind != "transfer":
        raise InvalidRequest("from_wms_source applies to transfers only", field="from_wms_source")
    await _require_wms(session, wms_source, "wms_source")
    if from_wms_source:
        await _require_wms(session, from_wms_source, "from_wms_source")
    now = utcnow()
    values = {"code": code, "kind": kind, "warehouse": warehouse, "wms_source": wms_source,
              "order_type": ORDER_TYPES[kind], "from_warehouse": from_warehouse, "related_code": related_code,
              "source": source, "status": "pending", "created_at": now, "updated_at": now}  # fmt: skip
    stmt = insert(session, InboundOrder).values(values).on_conflict_do_nothing(index_elements=["code"])
    created = (await session.execute(stmt.returning(InboundOrder.code))).first() is not None
    order = await session.get(InboundOrder, code, populate_existing=True)
    assert order is not None
    if not created:
        if (order.kind, order.warehouse) != (kind, warehouse):
            raise InvalidRequest(f"inbound order {code!r} already exists as a {order.kind} into {order.warehouse}",
                                 field="code")  # fmt: skip
        return order, False
    inspect_rule = await _inspect_rule(session, source)
    for i, line in enumerate(lines, start=1):
        if line.qty <= 0:
            raise InvalidRequest(f"line {i} ({line.sku}) qty must be positive", field="lines")
        session.add(InboundLine(order_code=code, line_no=str(i), sku=line.sku, planned=line.qty,
                                inspect=line.inspect or inspect_rule(line.sku), by_bucket={},
                                unit_cost=parse_unit_cost(line.unit_cost, f"lines[{i - 1}].unit_cost")))  # fmt: skip
    await lineage.record(session, f"inbound:{code}", kind="inbound_order", parents=parents,
                         label=f"{kind} {code} into {warehouse} via {wms_source}",
                         data={"kind": kind, "warehouse": warehouse})  # fmt: skip
    if kind == "transfer" and from_wms_source:
        await plan_transfer_out(session, code, warehouse=from_warehouse, wms_source=from_wms_source,
                                lines=[(ln.sku, ln.qty) for ln in lines], guarded_buckets=guarded_buckets)  # fmt: skip
    elif kind == "transfer":
        await locks.lock(session, (f"sku:{ln.sku}" for ln in lines))
        movements = [make_movement(key=f"in:{code}:{i}:{ln.sku}#transfer-out", sku=ln.sku, qty=ln.qty,
                                   source=f"{from_warehouse}/free", target="transit", kind="transfer_out",
                                   parents=(f"inbound:{code}",)) for i, ln in enumerate(lines, start=1)]  # fmt: skip
        await apply_movements(session, movements, guarded_buckets=guarded_buckets)  # WouldOverdraw: 409, nothing kept
    await outbox.enqueue(session, SEND_JOB, f"wh-inbound:{code}", {"code": code})
    await session.flush()
    return order, True


async def _require_wms(session: AsyncSession, name: str, field: str) -> None:
    wms = await session.get(Source, name)
    if wms is None or wms.platform != "qimen":
        raise InvalidRequest(f"{field} {name!r} is not a qimen source", field=field)


async def _inspect_rule(session: AsyncSession, source: str) -> Any:
    from hub.warehouse.outbound import rule_for

    src = await session.get(Source, source) if source else None
    return rule_for(src).needs_inspection


async def lines_of(session: AsyncSession, code: str) -> list[InboundLine]:
    stmt = select(InboundLine).where(InboundLine.order_code == code).order_by(InboundLine.line_no)
    return list((await session.execute(stmt.with_for_update())).scalars().all())


async def on_inbound_confirm(
    session: AsyncSession, confirm: OrderConfirm, *, raw_event_id: int | None, wms_source: str,
    guarded_buckets: Sequence[str],
) -> list[str]:  # fmt: skip
    """Receive what the WMS counted in, per line and inventory type."""
    order = await session.get(InboundOrder, confirm.order_code, with_for_update=True, populate_existing=True)
    if order is None:
        return [f"{confirm.method} for {confirm.order_code!r}: no such inbound order in the hub"]
    if order.wms_source != wms_source:
        return [f"{confirm.method} for {order.code} came from {wms_source}, not {order.wms_source}"]
    lines = await lines_of(session, order.code)
    await locks.lock(session, (f"sku:{ln.sku}" for ln in lines))
    parents = [p for p in (f"raw:{raw_event_id}" if raw_event_id else "", f"inbound:{order.code}") if p]
    origin, kind = FROM_ACCOUNT[order.kind]
    tag = confirm.out_biz_code or hashlib.sha256(repr(confirm.lines).encode()).hexdigest()[:12]
    errors: list[str] = []
    for index, cl in enumerate(confirm.lines):
        line = next((ln for ln in lines if ln.line_no == cl.order_line_no and ln.sku == cl.item_code), None) or \
            next((ln for ln in lines if ln.sku == cl.item_code), None)
        if line is None:
            errors.append(f"{order.code}: received item {cl.item_code} is not on the order")
            continue
        bucket = bucket_for(cl.inventory_type, inspect=line.inspect)
        booking = f"in:{order.code}:{tag}:{index}:{cl.item_code}:{cl.inventory_type}"
        if not await book(session, booking, order.code, raw_event_id) or cl.actual_qty <= 0:
            continue
        line.received += cl.actual_qty
        if bucket is None:
            errors.append(f"{order.code} {line.sku}: inventory type {cl.inventory_type} is not booked in the ledger")
            continue
        movement = make_movement(key=f"{booking}#in", sku=line.sku, qty=cl.actual_qty, source=origin,
                                 target=f"{order.warehouse}/{bucket}", kind=kind, parents=parents)  # fmt: skip
        await apply_movements(session, [movement], guarded_buckets=guarded_buckets)
        if line.unit_cost is not None:
            await record_unit_cost(session, movement.key, unit_cost=line.unit_cost, refs={"inbound_order": order.code})
        line.by_bucket = {**(line.by_bucket or {}), bucket: int((line.by_bucket or {}).get(bucket, 0)) + cl.actual_qty}
        await batch_add(session, line.sku, order.warehouse, cl.batch_code, cl.actual_qty, cl.product_date,
                        cl.expire_date)  # fmt: skip
    if confirm.is_final:
        planned, received = sum(ln.planned for ln in lines), sum(ln.received for ln in lines)
        order.status = ("received" if received == planned else
                        "short_received" if received < planned else "over_received")  # fmt: skip
    elif order.status in ("pending", "sent", "accepted"):
        order.status = "partially_received"
    order.wms_order_id = order.wms_order_id or confirm.order_id
    order.updated_at = utcnow()
    await session.flush()
    return errors


async def batch_add(session: AsyncSession, sku: str, location: str, batch_code: str, qty: int,
                    product_date: str = "", expire_date: str = "") -> None:  # fmt: skip
    if not batch_code:
        return
    row = await session.get(StockBatch, (sku, location, batch_code), with_for_update=True)
    if row is None:
        session.add(StockBatch(sku=sku, location=location, batch_code=batch_code, quantity=qty,
                               product_date=product_date, expire_date=expire_date, updated_at=utcnow()))
    else:
        row.quantity += qty
        row.expire_date = row.expire_date or expire_date
        row.product_date = row.product_date or product_date
        row.updated_at = utcnow()
    await session.flush()


async def return_for_delivery(
    session: AsyncSession, do: DeliveryOrder, *, guarded_buckets: Sequence[str], parents: Sequence[str] = (),
    quantities: dict[str, int] | None = None,
) -> InboundOrder | None:  # fmt: skip
    """The expected inbound of goods coming back from a shipped delivery order (a carrier return, a
    marketplace return with goods back): ``returnorder.create`` at the warehouse that shipped them."""
    lines = (await session.execute(select(DeliveryLine).where(DeliveryLine.order_code == do.code)
                                   .order_by(DeliveryLine.line_no))).scalars().all()  # fmt: skip
    planned = []
    for ln in lines:
        qty = ln.shipped if quantities is None else min(ln.shipped, int(quantities.get(ln.sku, 0)))
        if qty > 0:
            planned.append(PlannedLine(ln.sku, qty))
    if not planned:
        return None
    order, _ = await create(session, kind="return", code=f"RT-{do.code}"[:100], warehouse=do.warehouse,
                            wms_source=do.wms_source, lines=planned, related_code=do.code, source=do.source,
                            guarded_buckets=guarded_buckets, parents=[f"delivery:{do.code}", *parents])  # fmt: skip
    return order


def order_dict(order: InboundOrder, lines: Sequence[InboundLine], shipped: dict[str, int] | None = None) -> dict[str, Any]:
    """``shipped``: units per sku the sending WMS confirmed out (a DBCK transfer); without one, a transfer's
    units left the sending warehouse when it was created."""
    in_transit = order.kind == "transfer"  # what the receiving warehouse has not (yet) confirmed stays in transit
    return {
        "code": order.code, "kind": order.kind, "warehouse": order.warehouse, "wms_source": order.wms_source,
        "order_type": order.order_type, "from_warehouse": order.from_warehouse, "related_code": order.related_code,
        "source": order.source, "status": order.status, "wms_order_id": order.wms_order_id,
        "last_error": order.last_error, "lineage_id": f"inbound:{order.code}",
        "created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat(),
        "lines": [{"line_no": ln.line_no, "sku": ln.sku, "planned": ln.planned, "received": ln.received,
                   "inspect": ln.inspect, "by_bucket": ln.by_bucket, "unit_cost": ln.unit_cost,
                   "in_transit": max((ln.planned if shipped is None else shipped.get(ln.sku, 0)) - ln.received, 0)
                   if in_transit else 0} for ln in lines],
    }  # fmt: skip


__all__ = ["PlannedLine", "WouldOverdraw", "bucket_for", "create", "on_inbound_confirm", "order_dict",
           "return_for_delivery"]
