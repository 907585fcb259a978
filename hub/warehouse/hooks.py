"""The pipeline's doors into the warehouse loop (``hub.services.pipeline`` calls these, in its transaction).

- :func:`handle_raw` — a raw event the mappings do not turn into stock figures: Qimen ``*.confirm``
  (ship / receive) and ``stockchange.report`` (adjust), TMS tracking pushes. ``None``: not ours. It also
  stops a WMS snapshot (``inventory.query``) that cannot be compared with the ledger right now (see
  :mod:`hub.warehouse.stock`) and asks the WMS again; a comparable one goes on to the mappings.
- :func:`route` / :func:`after_order` / :func:`wms_ships` — marketplace orders: where to reserve, the
  delivery order after the reservation, the WMS cancel after a marketplace cancel, and whether the
  marketplace's own "shipped" must wait for the warehouse's confirmation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.qimen.messages import CONFIRM_METHODS, OUTBOUND_CONFIRMS, MessageError, parse_order_confirm, parse_stock_changes, short_method
from connectors.tms.tracking import TrackingError, parse_result
from hub import lineage
from hub.jobs import outbox
from hub.storage import locks
from hub.storage.models import RawEvent, Source
from hub.storage.models_warehouse import DeliveryOrder, TrackingEvent
from hub.storage.sql import insert
from hub.warehouse import inbound, outbound, stock
from semantic_layer.observation import OrderEvent

log = logging.getLogger("zhongshu.warehouse")
RETURN_STATES = ("returning", "returned")  # 退回, 退签: the parcel is coming back to the warehouse


@dataclass
class Handled:
    status: str = "processed"
    errors: list[str] = field(default_factory=list)
    movements: list[int] = field(default_factory=list)


async def handle_raw(
    session: AsyncSession, source: Source | None, raw: RawEvent, payload: Any, *, guarded_buckets: Sequence[str]
) -> Handled | None:
    platform = source.platform if source is not None else ""
    if platform == "qimen":
        method = short_method(raw.topic or "")
        if method in CONFIRM_METHODS:
            return await _confirm(session, raw, method, payload, guarded_buckets)
        if method == stock.SNAPSHOT_TOPIC and isinstance(payload, dict):
            return await _snapshot(session, raw, payload)
        return None
    if platform == "tms" and (raw.topic or "").startswith("tracking/"):
        return await _tracking(session, raw, payload, guarded_buckets)
    return None


async def _confirm(session: AsyncSession, raw: RawEvent, method: str, payload: Any,
                   guarded_buckets: Sequence[str]) -> Handled:  # fmt: skip
    try:
        confirm = parse_order_confirm(method, payload if isinstance(payload, dict) else {})
    except MessageError as exc:
        return Handled("failed", [f"{method}: {exc}"])
    if method in OUTBOUND_CONFIRMS:
        errors = await outbound.on_delivery_confirm(session, confirm, raw_event_id=raw.id, wms_source=raw.source,
                                                    guarded_buckets=guarded_buckets)  # fmt: skip
    else:
        errors = await inbound.on_inbound_confirm(session, confirm, raw_event_id=raw.id, wms_source=raw.source,
                                                  guarded_buckets=guarded_buckets)  # fmt: skip
    unknown = any("no such" in e for e in errors)
    return Handled("failed" if unknown else "processed", errors)


async def _snapshot(session: AsyncSession, raw: RawEvent, payload: dict[str, Any]) -> Handled | None:
    """``None`` (arbitrate it) when every cell of the snapshot is comparable with the ledger; otherwise apply
    none of it and count again: the quiet skus at once, the busy ones after a delay. The skus' locks are
    held from here to the pipeline's commit, so no confirmation books in between."""
    warehouse = str(payload.get("warehouseCode") or "")
    items = [i for i in payload.get("items") or () if isinstance(i, dict) and i.get("itemCode")]
    cells = {(str(i["itemCode"]), str(i.get("warehouseCode") or warehouse)) for i in items}
    if not cells:
        return None
    await locks.lock(session, (f"sku:{sku}" for sku, _ in cells))
    mark = payload.get("ledgerMark")
    busy = await stock.not_comparable(session, cells, int(mark) if isinstance(mark, int) else None)
    if not busy:
        return None
    attempt = int(payload.get("attempt") or 0)
    quiet = sorted({sku for sku, loc in cells if (sku, loc) not in busy})
    waiting = sorted({sku for sku, _ in busy})
    notes = [f"snapshot not applied to {sku}@{loc}: {why}" for (sku, loc), why in sorted(busy.items())]
    args = {"wms_source": raw.source, "warehouse": warehouse}
    if quiet:
        await outbox.enqueue(session, stock.SNAPSHOT_JOB, f"wh-recount:{raw.id}:quiet",
                             {**args, "items": quiet, "attempt": attempt})  # fmt: skip
        notes.append(f"counting {', '.join(quiet)} again now")
    if attempt + 1 > stock.RECOUNT_ATTEMPTS:
        notes.append(f"gave up counting {', '.join(waiting)} after {attempt} attempts: orders stay in flight")
        log.warning("stock count of %s at %s %s: %s", ", ".join(waiting), raw.source, warehouse, notes[-1])
    else:
        delay = stock.recount_delay(attempt + 1)
        await outbox.enqueue(session, stock.SNAPSHOT_JOB, f"wh-recount:{raw.id}:busy",
                             {**args, "items": waiting, "attempt": attempt + 1}, delay=delay)  # fmt: skip
        notes.append(f"counting {', '.join(waiting)} again in {delay:g} s")
    return Handled("processed", notes)


async def book_stock_changes(session: AsyncSession, source: Source | None, raw: RawEvent, payload: Any, *,
                             guarded_buckets: Sequence[str]) -> Handled | None:  # fmt: skip
    """``stockchange.report`` of a qimen source → adjust movements (the pipeline's mapped deltas)."""
    if source is None or source.platform != "qimen" or short_method(raw.topic or "") != "stockchange.report":
        return None
    try:
        changes = parse_stock_changes(payload if isinstance(payload, dict) else {})
    except MessageError as exc:
        return Handled("failed", [f"stockchange.report: {exc}"])
    ids, errors = await stock.book_stock_changes(session, changes, wms_source=raw.source, raw_event_id=raw.id,
                                                 guarded_buckets=guarded_buckets)  # fmt: skip
    return Handled("processed", errors, ids)


async def _tracking(session: AsyncSession, raw: RawEvent, payload: Any, guarded_buckets: Sequence[str]) -> Handled:
    try:
        track = parse_result((payload or {}).get("lastResult") if isinstance(payload, dict) else None)  # type: ignore[arg-type]
    except TrackingError as exc:
        return Handled("failed", [f"tracking: {exc}"])
    # the row lock orders concurrent scans of one parcel, so the latest scan below sees every earlier one
    do = await session.scalar(select(DeliveryOrder).where(DeliveryOrder.express_code == track.number)
                              .order_by(DeliveryOrder.code).limit(1).with_for_update())  # fmt: skip
    latest = track.nodes[0] if track.nodes else None
    values = {"raw_event_id": raw.id, "express_code": track.number, "company": track.company,
              "state": track.state_name, "delivery_order": do.code if do else None,
              "context": (latest.context if latest else "")[:500], "scanned_at": latest.time if latest else ""}
    await session.execute(insert(session, TrackingEvent).values(values).on_conflict_do_nothing(
        index_elements=["raw_event_id"]))  # fmt: skip
    parents = [f"raw:{raw.id}"] + ([f"delivery:{do.code}"] if do else [])
    await lineage.record(session, f"tracking:{raw.id}", kind="tracking", parents=parents,
                         label=f"{track.company} {track.number}: {track.state_name}")  # fmt: skip
    if do is None:
        return Handled("processed", [f"tracking number {track.number} belongs to no delivery order"])
    # scans may arrive (or be processed) out of order: the parcel is in the state of its latest scan
    do.tracking_state = await session.scalar(
        select(TrackingEvent.state).where(TrackingEvent.express_code == track.number)
        .order_by(TrackingEvent.scanned_at.desc(), TrackingEvent.raw_event_id.desc()).limit(1)) or track.state_name  # fmt: skip
    if track.state_name in RETURN_STATES:
        await inbound.return_for_delivery(session, do, guarded_buckets=guarded_buckets,
                                          parents=[f"tracking:{raw.id}"])  # fmt: skip
    await session.flush()
    return Handled("processed")


# -- marketplace orders ---------------------------------------------------------------------------------
async def route(session: AsyncSession, source: Source | None, order: OrderEvent, payload: Any) -> dict[str, str]:
    if order.kind not in ("created", "paid"):
        return {}
    return await outbound.route(session, source, order, payload)


async def wms_ships(session: AsyncSession, order: OrderEvent) -> bool:
    """The marketplace says 'shipped' for an order a WMS delivery order carries: the WMS confirm ships it."""
    return order.kind == "shipped" and await outbound.fulfilled_by_wms(session, order)


async def after_order(
    session: AsyncSession, source: Source | None, order: OrderEvent, placements: dict[str, str], payload: Any, *,
    guarded_buckets: Sequence[str],
) -> None:  # fmt: skip
    if order.kind in ("created", "paid") and placements:
        await outbound.plan_delivery(session, source, order, placements, payload)
    elif order.kind == "cancelled":
        await outbound.on_order_cancelled(session, order)
    elif order.kind == "returned":
        orders = (await session.execute(select(DeliveryOrder).where(
            DeliveryOrder.source == order.source, DeliveryOrder.order_ref == order.order_ref))).scalars().all()  # fmt: skip
        wanted = {line.sku: int(line.qty) for line in order.lines}
        parents = [f"raw:{order.raw_event_id}"] if order.raw_event_id else []
        for do in orders:
            await inbound.return_for_delivery(session, do, guarded_buckets=guarded_buckets, parents=parents,
                                              quantities=wanted or None)  # fmt: skip
