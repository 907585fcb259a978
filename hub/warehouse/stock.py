"""What the WMS says about its stock on its own: stock-change reports and full inventory snapshots.

``stockchange.report`` lines are booked as adjust movements keyed by the WMS's outBizCode (its dedupe
key), except changes of orders the hub itself sent (their confirmations book them). A snapshot
(``inventory.query``) is stored as a raw event and runs through the pipeline like any other: mappings →
observations → arbitration (the WMS is the authority for on_hand) → exactly the adjust movements needed;
the same snapshot again finds nothing to adjust. Batches with expiry are kept from both.

A snapshot is the WMS's stock at the moment it answered; the hub's figure is compared with it later. The
two differ by more than a count difference whenever the WMS did something around that moment that the hub
books separately: a delivery order it had shipped whose confirmation was not booked yet (the snapshot
already lacks those units; the confirmation would take them out a second time), an entry or return order
it had received, or a confirmation booked after the snapshot was taken (the snapshot does not show it
yet). :func:`not_comparable` names those cells — an open delivery / inbound order there, or an on-hand
movement there newer than the snapshot's ``ledgerMark`` (the newest movement id before the WMS was
asked) — and such a snapshot is not applied: its cells are counted again, the busy ones after a delay
(``hooks`` does this, under the skus' locks, in the pipeline's transaction).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.qimen.messages import StockChange
from hub import inbox, lineage
from hub.domain.errors import WouldOverdraw
from hub.domain.ledger import ON_HAND_BUCKETS, make_movement
from hub.services.ledger import apply_movements
from hub.services.uow import UnitOfWork
from hub.storage.models import MovementRow, utcnow
from hub.storage.models_warehouse import DeliveryLine, DeliveryOrder, InboundLine, InboundOrder, StockBatch
from hub.warehouse.inbound import batch_add, bucket_for

SNAPSHOT_TOPIC = "inventory.query"
SNAPSHOT_JOB = "warehouse.stock_count"
DELIVERY_IN_FLIGHT = ("sent", "accepted", "partially_shipped", "cancelling", "cancel_refused")
"""Delivery order states the WMS may already have shipped in without the hub having booked it ('pending' is
not sent yet: the deliver job marks it 'sent' before it calls the WMS)."""
INBOUND_IN_FLIGHT = ("sent", "accepted", "partially_received")
RECOUNT_ATTEMPTS = 40
"""How many times a busy cell is counted again before the hub gives up on that count (about 2 minutes)."""


def recount_delay(attempt: int) -> float:
    return min(0.5 * attempt, 3.0)


async def book_stock_changes(
    session: AsyncSession, changes: Sequence[StockChange], *, wms_source: str, raw_event_id: int | None,
    guarded_buckets: Sequence[str],
) -> tuple[list[int], list[str]]:  # fmt: skip
    """Adjust movements for the WMS's own changes; returns (movement ids, errors)."""
    ids: list[int] = []
    errors: list[str] = []
    parents = (f"raw:{raw_event_id}",) if raw_event_id else ()
    for change in changes:
        if change.quantity == 0 or not change.warehouse_code:
            continue
        if change.order_code and await _ours(session, change.order_code):
            continue  # the order's confirmation books it
        bucket = bucket_for(change.inventory_type, inspect=False)
        if bucket is None:
            continue
        account = f"{change.warehouse_code}/{bucket}"
        source, target = ("adjustment", account) if change.quantity > 0 else (account, "adjustment")
        movement = make_movement(key=f"wms-chg:{wms_source}:{change.out_biz_code}"[:200], sku=change.item_code,
                                 qty=abs(change.quantity), source=source, target=target, kind="adjust",
                                 parents=parents)  # fmt: skip
        try:
            async with session.begin_nested():
                [result] = await apply_movements(session, [movement], guarded_buckets=guarded_buckets)
        except WouldOverdraw as exc:
            errors.append(f"stock change {change.out_biz_code} ({change.order_type} {change.quantity} × "
                          f"{change.item_code}): {exc.detail}")  # fmt: skip
            continue
        if result.status == "applied":
            ids.append(result.id)
            if change.batch_code:
                await batch_add(session, change.item_code, change.warehouse_code, change.batch_code, change.quantity,
                                change.product_date, change.expire_date)  # fmt: skip
    return ids, errors


async def _ours(session: AsyncSession, code: str) -> bool:
    if await session.get(DeliveryOrder, code) is not None:
        return True
    return await session.get(InboundOrder, code) is not None


def aggregate(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (warehouse, item, inventory type): batch rows summed (the mapping keys observations by
    cell, so per-batch rows of one cell must not reach it separately)."""
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (str(row.get("warehouseCode", "")), str(row.get("itemCode", "")), str(row.get("inventoryType") or "ZP"))
        cell = cells.setdefault(key, {"warehouseCode": key[0], "itemCode": key[1], "inventoryType": key[2],
                                      "quantity": 0, "lockQuantity": 0})
        cell["quantity"] += int(row.get("quantity") or 0)
        cell["lockQuantity"] += int(row.get("lockQuantity") or 0)
    return [cells[k] for k in sorted(cells)]


async def ledger_mark(session: AsyncSession) -> int:
    """The newest movement id now. Taken before the WMS is asked: a movement inserted afterwards gets a higher
    id (ids come from one sequence), so "id > mark" covers everything the snapshot may not show."""
    return int(await session.scalar(select(func.coalesce(func.max(MovementRow.id), 0))) or 0)


async def not_comparable(
    session: AsyncSession, cells: set[tuple[str, str]], mark: int | None
) -> dict[tuple[str, str], str]:
    """(sku, location) → why the snapshot's figure for it cannot be compared with the ledger's right now.

    Call it holding the skus' locks (confirmations book under them), so the answer holds until commit."""
    if not cells:
        return {}
    skus, locations = sorted({s for s, _ in cells}), sorted({loc for _, loc in cells})
    out: dict[tuple[str, str], str] = {}
    open_orders = [(DeliveryLine, DeliveryOrder, DELIVERY_IN_FLIGHT, "delivery order {} is {}: the WMS may have shipped it"),
                   (InboundLine, InboundOrder, INBOUND_IN_FLIGHT, "{} is {}: the WMS may have received it")]  # fmt: skip
    for line, order, states, why in open_orders:
        rows = await session.execute(
            select(line.sku, order.warehouse, order.code, order.status)
            .join(order, order.code == line.order_code)
            .where(line.sku.in_(skus), order.warehouse.in_(locations), order.status.in_(states)))  # fmt: skip
        for sku, location, code, status in rows:
            if (sku, location) in cells:
                out.setdefault((sku, location), why.format(code, status))
    if mark is not None:
        on_hand = {location: {f"{location}/{b}" for b in ON_HAND_BUCKETS} for location in locations}
        rows = await session.execute(select(MovementRow.id, MovementRow.sku, MovementRow.kind, MovementRow.from_account,
                                            MovementRow.to_account)
                                     .where(MovementRow.id > mark, MovementRow.sku.in_(skus)))  # fmt: skip
        for mid, sku, kind, source, target in rows:
            for location, buckets in on_hand.items():
                if (sku, location) in cells and (source in buckets) != (target in buckets):
                    out.setdefault((sku, location), f"{kind} movement {mid} was booked after the snapshot was taken")
    return out


async def store_snapshot(uow: UnitOfWork, wms_source: str, warehouse: str, rows: Sequence[Mapping[str, Any]], *,
                         ledger_mark: int | None = None, attempt: int = 0) -> int:  # fmt: skip
    """Keep the snapshot's batches and store it as a raw event for the pipeline; returns the raw event id.

    ``ledger_mark`` (the newest movement id before the WMS was asked) and ``attempt`` (how many times a
    busy cell was counted again) travel in the payload for :func:`not_comparable` and the recount."""
    session = uow.session
    seen: set[tuple[str, str]] = set()
    for row in rows:
        code = str(row.get("batchCode") or "")
        sku, location = str(row.get("itemCode", "")), str(row.get("warehouseCode") or warehouse)
        if not code or str(row.get("inventoryType") or "ZP") != "ZP":
            continue
        seen.add((sku, location))
        existing = await session.get(StockBatch, (sku, location, code), with_for_update=True)
        qty = int(row.get("quantity") or 0)
        if existing is None:
            session.add(StockBatch(sku=sku, location=location, batch_code=code, quantity=qty,
                                   product_date=str(row.get("productDate") or ""),
                                   expire_date=str(row.get("expireDate") or ""), updated_at=utcnow()))
        else:
            existing.quantity = qty
            existing.expire_date = str(row.get("expireDate") or existing.expire_date)
            existing.updated_at = utcnow()
        await session.flush()
    for sku, location in seen:  # batches of a counted item the snapshot no longer lists are gone
        listed = {str(r.get("batchCode")) for r in rows if str(r.get("itemCode")) == sku and r.get("batchCode")}
        await session.execute(update(StockBatch).where(StockBatch.sku == sku, StockBatch.location == location,
                                                       StockBatch.batch_code.not_in(listed))
                              .values(quantity=0, updated_at=utcnow()))  # fmt: skip
    payload: dict[str, Any] = {"warehouseCode": warehouse, "items": aggregate(rows), "attempt": attempt}
    if ledger_mark is not None:
        payload["ledgerMark"] = ledger_mark
    body = json.dumps(payload, ensure_ascii=False).encode()
    stored = await inbox.store_and_enqueue(uow, source=wms_source, platform_event_id=f"{SNAPSHOT_TOPIC}:{warehouse}:"
                                           f"{uuid.uuid4().hex}", topic=SNAPSHOT_TOPIC, body=body, payload=payload,
                                           headers={"via": "warehouse.stock_count"},
                                           verification="fetched over the WMS's signed API")  # fmt: skip
    await lineage.record(session, f"raw:{stored.raw_event_id}", kind="raw_event",
                         label=f"{wms_source} inventory.query {warehouse}")  # fmt: skip
    return stored.raw_event_id


def near_expiry(expire_date: str, today: date, days: int) -> bool:
    if not expire_date:
        return False
    try:
        expires = datetime.strptime(expire_date[:10], "%Y-%m-%d").date()
    except ValueError:
        return False
    return expires - today <= timedelta(days=days)


async def batches_of(session: AsyncSession, sku: str, *, days: int, today: date) -> list[dict[str, Any]]:
    rows = (await session.execute(select(StockBatch).where(StockBatch.sku == sku)
                                  .order_by(StockBatch.location, StockBatch.expire_date, StockBatch.batch_code))).scalars()
    return [{"location": b.location, "batch_code": b.batch_code, "quantity": b.quantity,
             "product_date": b.product_date, "expire_date": b.expire_date,
             "near_expiry": b.quantity > 0 and near_expiry(b.expire_date, today, days),
             "updated_at": b.updated_at.isoformat()} for b in rows]  # fmt: skip
