"""Durable jobs that talk to the WMS: send delivery / entry / return orders, cancel, fetch a snapshot.

Each job reads its order row in a short transaction, calls the WMS with no transaction open (the WMS may
push its confirmation back to the hub before it answers — the out-of-order case — and that confirmation
must be able to lock the row), then records the answer with a conditional UPDATE that never overwrites
a state a confirmation already reached. Transient WMS errors raise (the job is retried); permanent ones
are recorded on the order.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from connectors.base import ConflictError, NotFound, PermanentError
from hub.channels import connector_of
from hub.jobs.registry import JobContext, job
from hub.services import reservations
from hub.services.uow import UnitOfWork
from hub.storage.models import Source, utcnow
from hub.storage.models_warehouse import DeliveryLine, DeliveryOrder, InboundLine, InboundOrder
from hub.warehouse import alerts as _alerts  # noqa: F401  (registers the low-stock ledger listener)
from hub.warehouse.inbound import SEND_JOB
from hub.warehouse.outbound import CANCEL_JOB, DELIVER_JOB, TRANSFER_OUT
from hub.warehouse.stock import SNAPSHOT_JOB, ledger_mark, store_snapshot

log = logging.getLogger("zhongshu.warehouse")
__all__ = ["SNAPSHOT_JOB", "cancel_delivery", "deliver", "send_inbound", "stock_count"]


async def _connector(ctx: JobContext, name: str) -> Any:
    async with ctx.sessionmaker() as session:
        source = await session.get(Source, name)
    if source is None or not source.enabled or source.platform != "qimen":
        raise PermanentError(f"WMS source {name!r} is missing, disabled or not a qimen source")
    return connector_of(ctx.settings, source)


@job(DELIVER_JOB)
async def deliver(ctx: JobContext, code: str) -> None:
    """deliveryorder.create for a planned delivery order (idempotent: the WMS answers a repeat the same)."""
    async with ctx.sessionmaker() as session, session.begin():
        do = await session.get(DeliveryOrder, code, with_for_update=True)
        if do is None or do.status not in ("pending", "sent"):
            return  # cancelled before it was sent, or already acknowledged / confirmed
        do.status, do.updated_at = "sent", utcnow()
        lines = (await session.execute(select(DeliveryLine).where(DeliveryLine.order_code == code)
                                       .order_by(DeliveryLine.line_no))).scalars().all()  # fmt: skip
        wms, warehouse, policy = do.wms_source, do.warehouse, do.picking_policy
        province = (do.receiver or {}).get("province") or "-"
        body = [{"orderLineNo": ln.line_no, "itemCode": ln.sku, "planQty": ln.planned} for ln in lines]
        order_type, shop = do.order_type, do.source
    try:
        connector = await _connector(ctx, wms)
        accepted = await connector.create_delivery_order(
            code, warehouse_code=warehouse, lines=body, order_type=order_type, picking_policy=policy,
            shop_nick=shop, receiver={"name": "-", "mobile": "-", "province": province, "city": "-",
                                      "detailAddress": "-"})  # fmt: skip
    except PermanentError as exc:
        await _record_error(ctx, DeliveryOrder, code, "sent", "rejected", str(exc))
        log.warning("delivery order %s refused by the WMS: %s", code, exc)
        if order_type == TRANSFER_OUT:
            await _release_transfer_out(ctx, code)
        return
    answer = accepted.answer
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(update(DeliveryOrder).where(DeliveryOrder.code == code).values(
            wms_order_id=accepted.wms_order_id, updated_at=utcnow()))  # fmt: skip
        await session.execute(update(DeliveryOrder).where(DeliveryOrder.code == code, DeliveryOrder.logistics_code == "")
                              .values(logistics_code=str(answer.get("logisticsCode") or "")))  # fmt: skip
        await session.execute(update(DeliveryOrder).where(DeliveryOrder.code == code, DeliveryOrder.status == "sent")
                              .values(status="accepted"))  # fmt: skip


@job(CANCEL_JOB)
async def cancel_delivery(ctx: JobContext, code: str) -> None:
    """order.cancel; refused because the WMS already shipped → the shipment wins (its confirm ships it)."""
    async with ctx.sessionmaker() as session:
        do = await session.get(DeliveryOrder, code)
        if do is None or do.status != "cancelling":
            return
        wms, warehouse, order_id, order_type = do.wms_source, do.warehouse, do.wms_order_id, do.order_type
    connector = await _connector(ctx, wms)
    try:
        await connector.cancel_order(code, warehouse_code=warehouse, order_type=order_type, order_id=order_id,
                                     reason="cancelled on the marketplace")  # fmt: skip
        status, error = "cancelled", None
    except ConflictError as exc:
        status, error = "cancel_refused", f"the WMS had already shipped: {exc}"
    except NotFound as exc:
        status, error = "cancelled", f"the WMS does not know the order: {exc}"
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(update(DeliveryOrder).where(DeliveryOrder.code == code, DeliveryOrder.status == "cancelling")
                              .values(status=status, last_error=error, updated_at=utcnow()))  # fmt: skip


@job(SEND_JOB)
async def send_inbound(ctx: JobContext, code: str) -> None:
    """entryorder.create (purchase CGRK, transfer DBRK) or returnorder.create (THRK)."""
    async with ctx.sessionmaker() as session, session.begin():
        order = await session.get(InboundOrder, code, with_for_update=True)
        if order is None or order.status not in ("pending", "sent"):
            return
        order.status, order.updated_at = "sent", utcnow()
        lines = (await session.execute(select(InboundLine).where(InboundLine.order_code == code)
                                       .order_by(InboundLine.line_no))).scalars().all()  # fmt: skip
        body = [{"orderLineNo": ln.line_no, "itemCode": ln.sku, "planQty": ln.planned} for ln in lines]
        kind, wms, warehouse, order_type, related = (order.kind, order.wms_source, order.warehouse,
                                                     order.order_type, order.related_code)  # fmt: skip
    try:
        connector = await _connector(ctx, wms)
        if kind == "return":
            accepted = await connector.create_return_order(code, warehouse_code=warehouse, lines=body,
                                                           order_type=order_type, pre_delivery_order_code=related)
        else:
            accepted = await connector.create_entry_order(code, warehouse_code=warehouse, lines=body,
                                                          order_type=order_type, purchase_order_code=related)
    except PermanentError as exc:
        await _record_error(ctx, InboundOrder, code, "sent", "rejected", str(exc))
        return
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(update(InboundOrder).where(InboundOrder.code == code).values(
            wms_order_id=accepted.wms_order_id, updated_at=utcnow()))  # fmt: skip
        await session.execute(update(InboundOrder).where(InboundOrder.code == code, InboundOrder.status == "sent")
                              .values(status="accepted"))  # fmt: skip


@job(SNAPSHOT_JOB)
async def stock_count(ctx: JobContext, wms_source: str, warehouse: str, items: list[str] | None = None,
                      attempt: int = 0) -> None:  # fmt: skip
    """inventory.query at one warehouse → a raw event the pipeline arbitrates (WMS authority on on_hand).

    The ledger mark is read before the WMS is asked, so whatever the hub books from then on is known to be
    possibly missing from the snapshot (see :func:`hub.warehouse.stock.not_comparable`)."""
    connector = await _connector(ctx, wms_source)
    async with ctx.sessionmaker() as session:
        mark = await ledger_mark(session)
    rows = await connector.inventory_snapshot(warehouse, list(items or ()))
    plain = [{"warehouseCode": r.warehouse_code or warehouse, "itemCode": r.item_code, "inventoryType": r.inventory_type,
              "quantity": r.quantity, "lockQuantity": r.lock_quantity, "batchCode": r.batch_code,
              "productDate": r.product_date, "expireDate": r.expire_date} for r in rows]  # fmt: skip
    listed = {row["itemCode"] for row in plain}
    plain += [{"warehouseCode": warehouse, "itemCode": item, "inventoryType": "ZP", "quantity": 0, "lockQuantity": 0}
              for item in items or () if item not in listed]  # asked for and not held: counted zero
    async with UnitOfWork(ctx.sessionmaker, ctx.queue) as uow:
        await store_snapshot(uow, wms_source, warehouse, plain, ledger_mark=mark, attempt=attempt)
        await uow.commit()


async def _release_transfer_out(ctx: JobContext, code: str) -> None:
    """A transfer-out the sending WMS refused will never ship: its held units go back on sale. (A refused
    trade order keeps its hold: the customer's order still needs those units, from this warehouse or
    another, and that is the operator's call.)"""
    async with UnitOfWork(ctx.sessionmaker, ctx.queue) as uow:
        lines = (await uow.session.execute(select(DeliveryLine).where(DeliveryLine.order_code == code))).scalars().all()
        for line in lines:
            if line.reservation_key:
                await reservations.settle(uow.session, line.reservation_key, "cancel", parents=[f"delivery:{code}"],
                                          guarded_buckets=ctx.settings.guarded_buckets)  # fmt: skip
                line.released = line.planned
        await uow.commit()


async def _record_error(ctx: JobContext, model: Any, code: str, expected: str, status: str, error: str) -> None:
    async with ctx.sessionmaker() as session, session.begin():
        await session.execute(update(model).where(model.code == code, model.status == expected)
                              .values(status=status, last_error=error[:4000], updated_at=utcnow()))
