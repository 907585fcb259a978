"""Outbound: a reserved marketplace order becomes a WMS delivery order; its confirmations ship it.

Every function runs inside the caller's transaction (the pipeline's, per raw event). Idempotency:
a delivery order's code is derived from (source, order, warehouse), each confirmation line is booked
once under ``do:<code>:<outBizCode>:<line>`` (``wh_confirm_bookings``), and each movement's key is
derived from that booking, so a redelivered, replayed or reordered confirmation changes nothing twice.

Shipping takes units out of the line's reservation while it still holds some, and out of ``free``
once it does not (a cancel the WMS refused because it had already shipped, or a partial confirmation
arriving after the final one released the rest): the warehouse is the authority on what left.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.qimen.messages import OrderConfirm
from hub import lineage
from hub.domain.errors import WouldOverdraw
from hub.domain.ledger import make_movement
from hub.jobs import outbox
from hub.services import reservations
from hub.services.ledger import apply_movements
from hub.storage import locks
from hub.storage.models import Balance, MovementRow, Reservation, Source, utcnow
from hub.storage.models_warehouse import ConfirmBooking, DeliveryLine, DeliveryOrder, StockBatch
from hub.storage.sql import insert
from hub.warehouse.config import RoutingRule, choose_warehouses, fefo, province_of, routing_rule
from semantic_layer.observation import OrderEvent

log = logging.getLogger("zhongshu.warehouse")

DELIVER_JOB = "warehouse.deliver"
CANCEL_JOB = "warehouse.cancel_delivery"
OPEN_STATUSES = ("pending", "sent", "accepted")
TRANSFER_OUT = "DBCK"
SHIPPED_TO = {TRANSFER_OUT: ("transit", "transfer_out")}
"""Where a confirmed outbound order's units go by order type; a trade order's go to the customer."""


def rule_for(source: Source | None) -> RoutingRule:
    override = (source.settings or {}).get("routing") if source is not None else None
    return routing_rule(override if isinstance(override, dict) else None)


def reservation_key(order: OrderEvent, sku: str) -> str:
    """The pipeline's reservation key for one order line (kept in step with hub.services.pipeline)."""
    return f"{order.source}:{order.order_ref}:{sku}"


def delivery_code(source: str, order_ref: str, warehouse: str) -> str:
    code = f"{source}-{order_ref}-{warehouse}"
    if len(code) <= 100:
        return code
    return f"{code[:80]}-{hashlib.sha256(code.encode()).hexdigest()[:16]}"


# -- routing ------------------------------------------------------------------------------------------
async def route(session: AsyncSession, source: Source | None, order: OrderEvent, payload: Any) -> dict[str, str]:
    """sku → warehouse for the order's lines that name no location; {} when routing is off for the source.

    A line already reserved keeps its warehouse (a ``paid`` after a ``created`` must not move it)."""
    rule = rule_for(source)
    if not rule.enabled or not rule.warehouses:
        return {}
    lines = [(line.sku, int(line.qty)) for line in order.lines if not line.location]
    if not lines:
        return {}
    placed: dict[str, str] = {}
    for sku, _ in lines:
        existing = await session.get(Reservation, reservation_key(order, sku))
        if existing is not None:
            placed[sku] = existing.location
    todo = [(sku, qty) for sku, qty in lines if sku not in placed]
    if todo:
        accounts = [f"{w}/free" for w in rule.warehouses]
        rows = (await session.execute(select(Balance.sku, Balance.account, Balance.qty).where(
            Balance.sku.in_([s for s, _ in todo]), Balance.account.in_(accounts)))).all()  # fmt: skip
        free = {(sku, account.rsplit("/", 1)[0]): int(qty) for sku, account, qty in rows}
        placed.update(choose_warehouses(rule, todo, free, province_of(payload)))
    return placed


# -- planning -----------------------------------------------------------------------------------------
async def plan_delivery(
    session: AsyncSession, source: Source | None, order: OrderEvent, placements: dict[str, str], payload: Any
) -> list[str]:
    """Create (once) the delivery orders for the order's held reservations at routed warehouses and enqueue
    their sending. Returns the delivery order codes."""
    rule = rule_for(source)
    groups: dict[str, list[tuple[str, Reservation]]] = {}
    for line in order.lines:
        location = placements.get(line.sku)
        if not location or rule.wms_of(location) is None:
            continue
        reservation = await session.get(Reservation, reservation_key(order, line.sku), populate_existing=True)
        if reservation is None or reservation.status != "held" or reservation.location != location:
            continue
        groups.setdefault(location, []).append((line.sku, reservation))
    codes = []
    province = province_of(payload)
    for location, lines in sorted(groups.items()):
        code = delivery_code(order.source, order.order_ref, location)
        now = utcnow()
        batches = await _fefo_hints(session, [sku for sku, _ in lines], location)
        values = {"code": code, "source": order.source, "order_ref": order.order_ref, "warehouse": location,
                  "wms_source": rule.wms_of(location), "order_type": "JYCK", "status": "pending",
                  "picking_policy": "FEFO" if any(batches.values()) else "",
                  "receiver": {"province": province} if province else {}, "raw_event_id": order.raw_event_id,
                  "created_at": now, "updated_at": now}  # fmt: skip
        stmt = insert(session, DeliveryOrder).values(values).on_conflict_do_nothing(index_elements=["code"])
        if (await session.execute(stmt.returning(DeliveryOrder.code))).first() is None:
            continue  # planned before (the paid after the created, a replay)
        for i, (sku, reservation) in enumerate(lines, start=1):
            session.add(DeliveryLine(order_code=code, line_no=str(i), sku=sku, reservation_key=reservation.key,
                                     planned=int(reservation.qty), fefo=batches.get(sku, [])))  # fmt: skip
        reserve_ids = (await session.execute(select(MovementRow.id).where(
            MovementRow.key.in_([f"{r.key}#reserve" for _, r in lines])))).scalars().all()  # fmt: skip
        parents = [f"movement:{i}" for i in reserve_ids] + ([f"raw:{order.raw_event_id}"] if order.raw_event_id else [])
        await lineage.record(session, f"delivery:{code}", kind="delivery_order", parents=parents,
                             label=f"delivery order {code} to {rule.wms_of(location)} ({location})",
                             data={"warehouse": location, "order_ref": order.order_ref})  # fmt: skip
        await outbox.enqueue(session, DELIVER_JOB, f"wh-deliver:{code}", {"code": code})
        codes.append(code)
    await session.flush()
    return codes


async def plan_transfer_out(
    session: AsyncSession, transfer: str, *, warehouse: str, wms_source: str, lines: Sequence[tuple[str, int]],
    guarded_buckets: Sequence[str],
) -> str:  # fmt: skip
    """The sending side of a transfer between two WMS warehouses: hold the units at ``warehouse`` (409 when
    they are not free) and send its WMS a DBCK outbound order (stockout.create); its confirmation moves
    what really left into ``transit``, where the receiving WMS's entry order takes it. Returns the code."""
    code = f"{transfer}-OUT"
    await locks.lock(session, (f"sku:{sku}" for sku, _ in lines))
    now = utcnow()
    session.add(DeliveryOrder(code=code, source="transfer", order_ref=transfer, warehouse=warehouse,
                              wms_source=wms_source, order_type=TRANSFER_OUT, status="pending", picking_policy="",
                              receiver={}, created_at=now, updated_at=now))  # fmt: skip
    for i, (sku, qty) in enumerate(lines, start=1):
        key = f"transfer:{transfer}:{i}:{sku}"
        await reservations.reserve(session, key=key, sku=sku, location=warehouse, qty=qty, order_ref=transfer,
                                   parents=[f"inbound:{transfer}"], guarded_buckets=guarded_buckets)  # fmt: skip
        session.add(DeliveryLine(order_code=code, line_no=str(i), sku=sku, reservation_key=key, planned=qty, fefo=[]))
    await lineage.record(session, f"delivery:{code}", kind="delivery_order", parents=[f"inbound:{transfer}"],
                         label=f"transfer out {code} to {wms_source} ({warehouse})",
                         data={"warehouse": warehouse, "order_ref": transfer})  # fmt: skip
    await outbox.enqueue(session, DELIVER_JOB, f"wh-deliver:{code}", {"code": code})
    await session.flush()
    return code


async def _fefo_hints(session: AsyncSession, skus: Sequence[str], location: str) -> dict[str, list[dict[str, Any]]]:
    rows = (await session.execute(select(StockBatch).where(StockBatch.sku.in_(list(skus)),
                                                           StockBatch.location == location))).scalars().all()
    out: dict[str, list[tuple[str, str, int]]] = {}
    for b in rows:
        if b.batch_code:
            out.setdefault(b.sku, []).append((b.batch_code, b.expire_date, int(b.quantity)))
    return {sku: fefo(batches) for sku, batches in out.items()}


async def fulfilled_by_wms(session: AsyncSession, order: OrderEvent) -> bool:
    """True when a WMS delivery order carries this order: its confirmation, not the marketplace's own
    'shipped' status, ships the units."""
    found = await session.scalar(select(DeliveryOrder.code).where(
        DeliveryOrder.source == order.source, DeliveryOrder.order_ref == order.order_ref).limit(1))  # fmt: skip
    return found is not None


async def on_order_cancelled(session: AsyncSession, order: OrderEvent) -> list[str]:
    """The marketplace cancelled (the pipeline already released the reservations it could): stop the WMS."""
    orders = (await session.execute(select(DeliveryOrder).where(
        DeliveryOrder.source == order.source, DeliveryOrder.order_ref == order.order_ref).with_for_update())).scalars().all()  # fmt: skip
    cancelled = []
    for do in orders:
        lines = await lines_of(session, do.code)
        wanted = {ln.sku: int(ln.qty) for ln in order.lines}
        for line in lines:
            reservation = await session.get(Reservation, line.reservation_key, populate_existing=True)
            if reservation is not None and reservation.status == "cancelled" and line.open > 0:
                line.released += line.open  # the pipeline's cancel moved these reserved→free
            elif reservation is not None and reservation.status == "shipped":
                await _gave_back_shipped(session, do, line, wanted.get(line.sku) or line.shipped)
        if do.status == "pending":
            do.status = "cancelled"  # never sent: the deliver job sees it and sends nothing
        elif do.status in ("sent", "accepted"):
            do.status = "cancelling"
            await outbox.enqueue(session, CANCEL_JOB, f"wh-cancel:{do.code}", {"code": do.code})
        else:
            continue
        do.updated_at = utcnow()
        cancelled.append(do.code)
    await session.flush()
    return cancelled


async def _gave_back_shipped(session: AsyncSession, do: DeliveryOrder, line: DeliveryLine, qty: int) -> None:
    """The marketplace cancelled an order the WMS had already shipped (and the hub booked): the channel put
    the units back on sale by itself, but they are gone. Its figure is corrected by a push (once)."""
    from hub.sync.engine import enqueue_pushes, note_channel_order  # the sync engine imports the pipeline

    if qty <= 0 or not await book(session, f"do:{do.code}:{line.line_no}:{line.sku}#cancelled-after-ship", do.code, None):
        return
    await note_channel_order(session, do.source, line.sku, qty)
    ship = await session.scalar(select(MovementRow.id).where(MovementRow.key.like(f"do:{do.code}:%#ship%"),
                                                            MovementRow.sku == line.sku)
                                .order_by(MovementRow.id.desc()).limit(1))  # fmt: skip
    await enqueue_pushes(session, {line.sku: f"movement:{ship}" if ship else f"delivery:{do.code}"})


async def lines_of(session: AsyncSession, code: str) -> list[DeliveryLine]:
    stmt = select(DeliveryLine).where(DeliveryLine.order_code == code).order_by(DeliveryLine.line_no)
    return list((await session.execute(stmt.with_for_update())).scalars().all())


# -- confirmations ------------------------------------------------------------------------------------
def _match(lines: Sequence[DeliveryLine], line_no: str, sku: str) -> DeliveryLine | None:
    by_no = next((ln for ln in lines if ln.line_no == line_no and ln.sku == sku), None)
    return by_no or next((ln for ln in lines if ln.sku == sku), None)


async def book(session: AsyncSession, key: str, code: str, raw_event_id: int | None) -> bool:
    """Claim one booking key; False when it was booked before (a duplicate confirmation)."""
    stmt = insert(session, ConfirmBooking).values(key=key[:250], order_code=code, raw_event_id=raw_event_id,
                                                  movement_ids=[], created_at=utcnow())
    stmt = stmt.on_conflict_do_nothing(index_elements=["key"])
    return (await session.execute(stmt.returning(ConfirmBooking.key))).first() is not None


async def on_delivery_confirm(
    session: AsyncSession, confirm: OrderConfirm, *, raw_event_id: int | None, wms_source: str,
    guarded_buckets: Sequence[str],
) -> list[str]:  # fmt: skip
    """Ship what the WMS says it shipped; on the final confirmation, release (or back-order) the rest."""
    do = await session.get(DeliveryOrder, confirm.order_code, with_for_update=True, populate_existing=True)
    if do is None:
        return [f"{confirm.method} for {confirm.order_code!r}: no such delivery order in the hub"]
    if do.wms_source != wms_source:
        return [f"{confirm.method} for {do.code} came from {wms_source}, not {do.wms_source}"]
    target, kind = SHIPPED_TO.get(do.order_type, ("customer", "ship"))
    lines = await lines_of(session, do.code)
    await locks.lock(session, (f"sku:{ln.sku}" for ln in lines))
    errors: list[str] = []
    parents = [p for p in (f"raw:{raw_event_id}" if raw_event_id else "", f"delivery:{do.code}") if p]
    tag = confirm.out_biz_code or f"{confirm.confirm_type}-{hashlib.sha256(repr(confirm.lines).encode()).hexdigest()[:12]}"
    shipped_now = 0
    for index, cl in enumerate(confirm.lines):
        line = _match(lines, cl.order_line_no, cl.item_code)
        if line is None:
            errors.append(f"{do.code}: confirmed item {cl.item_code} is not on the delivery order")
            continue
        booking = f"do:{do.code}:{tag}:{cl.order_line_no or index}:{cl.item_code}"
        if not await book(session, booking, do.code, raw_event_id) or cl.actual_qty <= 0:
            continue
        from_reserved = min(cl.actual_qty, max(line.open, 0))
        from_free = cl.actual_qty - from_reserved
        movements = []
        if from_reserved:
            movements.append(make_movement(key=f"{booking}#ship", sku=line.sku, qty=from_reserved,
                                           source=f"{do.warehouse}/reserved", target=target, kind=kind,
                                           parents=parents))  # fmt: skip
        if from_free:
            movements.append(make_movement(key=f"{booking}#ship-free", sku=line.sku, qty=from_free,
                                           source=f"{do.warehouse}/free", target=target, kind=kind,
                                           parents=parents))  # fmt: skip
        try:
            async with session.begin_nested():
                results = await apply_movements(session, movements, guarded_buckets=guarded_buckets)
        except WouldOverdraw as exc:
            errors.append(f"{do.code} {line.sku}: the WMS shipped {from_free} beyond the reservation but {exc.detail}")
            continue
        await session.execute(update(ConfirmBooking).where(ConfirmBooking.key == booking[:250]).values(
            movement_ids=[r.id for r in results]))  # fmt: skip
        line.shipped += cl.actual_qty
        line.shipped_from_free += from_free
        shipped_now += cl.actual_qty
        await _mark_reservation(session, line.reservation_key, "shipped")
        await _batches_out(session, line.sku, do.warehouse, cl)
    do.express_code = do.express_code or confirm.express_code
    do.logistics_code = do.logistics_code or confirm.logistics_code
    do.wms_order_id = do.wms_order_id or confirm.order_id
    if confirm.is_final and await book(session, f"do:{do.code}:final", do.code, raw_event_id):
        errors += await _close(session, do, lines, parents, guarded_buckets)
    elif not confirm.is_final and do.status in OPEN_STATUSES + ("cancelling",) and shipped_now:
        do.status = "partially_shipped"
    elif do.status in ("cancelling", "cancel_refused", "cancelled") and shipped_now:
        do.status = "shipped"  # shipped although cancelled: the shipment wins
    if lines and all(ln.shipped >= ln.planned for ln in lines) and do.status != "partially_shipped":
        do.status = "shipped"  # a partial confirmation that came after the final completed it
    do.updated_at = utcnow()
    await session.flush()
    return errors


async def _close(session: AsyncSession, do: DeliveryOrder, lines: list[DeliveryLine], parents: list[str],
                 guarded_buckets: Sequence[str]) -> list[str]:  # fmt: skip
    source = await session.get(Source, do.source)
    policy = rule_for(source).short_shipment
    short = False
    for line in lines:
        remaining = line.open
        if remaining <= 0:
            continue
        short = True
        if policy == "backorder":
            line.backordered = remaining
            continue
        movement = make_movement(key=f"do:{do.code}:{line.line_no}:{line.sku}#release-short", sku=line.sku,
                                 qty=remaining, source=f"{do.warehouse}/reserved", target=f"{do.warehouse}/free",
                                 kind="release", parents=parents)  # fmt: skip
        await apply_movements(session, [movement], guarded_buckets=guarded_buckets)
        line.released += remaining
        if line.shipped == 0:
            await _mark_reservation(session, line.reservation_key, "cancelled")
    if do.status in ("cancelled", "cancelling", "cancel_refused") and not any(ln.shipped for ln in lines):
        return []
    do.status = ("backordered" if policy == "backorder" else "short_shipped") if short else "shipped"
    return []


async def _mark_reservation(session: AsyncSession, key: str, status: str) -> None:
    await session.execute(update(Reservation).where(Reservation.key == key, Reservation.status == "held")
                          .values(status=status, updated_at=utcnow()))  # fmt: skip


async def _batches_out(session: AsyncSession, sku: str, location: str, cl: Any) -> None:
    picked = [(b.batch_code, b.quantity) for b in cl.batches if b.batch_code]
    if not picked and cl.batch_code:
        picked = [(cl.batch_code, cl.actual_qty)]
    for code, qty in picked:
        await session.execute(update(StockBatch).where(
            StockBatch.sku == sku, StockBatch.location == location, StockBatch.batch_code == code).values(
            quantity=StockBatch.quantity - qty, updated_at=utcnow()))  # fmt: skip


def order_dict(do: DeliveryOrder, lines: Sequence[DeliveryLine]) -> dict[str, Any]:
    return {
        "code": do.code, "source": do.source, "order_ref": do.order_ref, "warehouse": do.warehouse,
        "wms_source": do.wms_source, "status": do.status, "wms_order_id": do.wms_order_id,
        "logistics_code": do.logistics_code, "express_code": do.express_code, "tracking_state": do.tracking_state,
        "picking_policy": do.picking_policy, "last_error": do.last_error, "lineage_id": f"delivery:{do.code}",
        "created_at": do.created_at.isoformat(), "updated_at": do.updated_at.isoformat(),
        "lines": [{"line_no": ln.line_no, "sku": ln.sku, "planned": ln.planned, "shipped": ln.shipped,
                   "released": ln.released, "backordered": ln.backordered, "open": ln.open,
                   "shipped_from_free": ln.shipped_from_free, "reservation_key": ln.reservation_key,
                   "fefo": ln.fefo} for ln in lines],
    }  # fmt: skip
