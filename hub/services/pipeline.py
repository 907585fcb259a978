"""From one raw event to settled stock: mappings → observations (cube) → arbitration → ledger → views.

Runs as the ``inbox.process`` job, in one transaction per event, so a crash leaves the event pending and
it is processed again from the start. Every write is keyed by its origin, so processing (or replaying) an
event twice changes nothing the second time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.channels import cached_source
from hub.domain.errors import HubError
from hub.semantics import Semantics
from hub.services import arbitration, enrich, reservations
from hub.services import observations as obs_store
from hub.services import views as view_service
from hub.storage import locks
from hub.sync.engine import note_channel_order
from hub.storage.models import ObservationRow, RawEvent, Reservation, utcnow
from hub.warehouse import hooks as warehouse
from semantic_layer.observation import OrderEvent

log = logging.getLogger("zhongshu.pipeline")


@dataclass
class Outcome:
    status: str
    observations: list[int] = field(default_factory=list)
    decisions: list[int] = field(default_factory=list)
    reservations: list[str] = field(default_factory=list)
    views: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def process(
    session: AsyncSession, sem: Semantics, raw_event_id: int, *, guarded_buckets: list[str], default_location: str,
    replay: bool = False,
) -> Outcome:  # fmt: skip
    raw = await session.get(RawEvent, raw_event_id, with_for_update=True)
    if raw is None:
        return Outcome("missing")
    if raw.status != "pending" and not replay:
        return Outcome(raw.status)
    if raw.status == "refused":
        return Outcome("refused")
    source = await cached_source(session, raw.source)
    kind = source.platform if source is not None else sem.kind_of(raw.source)
    if source is not None:
        sem.know_instance(source.name, source.platform)
    try:
        payload = raw.payload if raw.payload is not None else json.loads(raw.body)
    except (ValueError, UnicodeDecodeError) as exc:
        return await _finish(session, raw, Outcome("failed", errors=[f"body is not JSON: {exc}"]))
    handled = await warehouse.handle_raw(session, source, raw, payload, guarded_buckets=guarded_buckets)
    if handled is not None:  # WMS confirmations (ship / receive), carrier tracking: the warehouse loop books them
        return await _finish(session, raw, Outcome(handled.status, errors=handled.errors))
    result = sem.mappings.apply(kind, raw.topic, payload, raw_event_id=raw.id, received_at=raw.received_at,
                                source=raw.source)  # fmt: skip
    result = enrich.resolve_skus(source, result)  # platform ids → the source's listed skus
    held = await reservations.orders_held(session, raw.source, sorted(enrich.orders_to_look_up(result)))
    if enrich.needs_fetch(kind, raw, result, held):  # an order without lines: fetch its detail, outside this transaction
        await enrich.request(session, raw.source, [raw.id])
    if result.unmapped:
        return await _finish(session, raw, Outcome("unmapped", errors=list(result.errors)))
    outcome = Outcome("processed", errors=list(result.errors))
    skus = {o.sku for o in result.observations} | _order_skus(result.orders) | {d.sku for d in result.deltas}
    await locks.lock(session, (f"sku:{s}" for s in skus))  # one event at a time per sku: views see each other
    canonical, failed = sem.dictionary.canonicalize(result.observations)
    outcome.errors += [f"{d.claim.stock_type} of {d.claim.sku}: {d.reason}" for d in failed]
    outcome.observations = await obs_store.store(session, canonical)
    location = (source.default_location if source is not None else "") or default_location
    for order in result.orders:
        placements = await warehouse.route(session, source, order, payload)  # {} unless the source routes orders
        if await warehouse.wms_ships(session, order):
            continue  # a WMS delivery order carries it: the warehouse's confirmation ships it, not the marketplace
        outcome.reservations += await _apply_order(session, order, location, guarded_buckets, outcome.errors,
                                                   placements)  # fmt: skip
        await warehouse.after_order(session, source, order, placements, payload, guarded_buckets=guarded_buckets)
    if result.deltas:  # Qimen stockchange.report: the WMS's own changes, as adjust movements
        booked = await warehouse.book_stock_changes(session, source, raw, payload, guarded_buckets=guarded_buckets)
        if booked is not None:
            outcome.errors += booked.errors
    await session.flush()
    rows = (await session.execute(select(ObservationRow).where(ObservationRow.id.in_(outcome.observations)))).scalars().all()
    physical = arbitration.arbitrated_types(sem)
    # parts before the whole: damaged/quality_hold settle first, so on_hand's adjustment (into free) sees them
    for row in sorted(rows, key=lambda r: (r.stock_type == "on_hand", r.id)):
        if row.canonical and row.stock_type in physical:
            decision = await arbitration.settle_cell(session, sem, row, guarded_buckets=guarded_buckets)
            if decision is not None:
                outcome.decisions.append(decision.id)
    for sku in sorted({r.sku for r in rows} | {s for s in _order_skus(result.orders)}):
        changed = {(r.source, r.stock_type, r.location) for r in rows if r.sku == sku}
        wanted = view_service.affected(sem, changed) if not outcome.decisions and not result.orders else None
        outcome.views += await view_service.recompute(session, sem, sku, wanted)
    if result.errors and not (outcome.observations or result.orders or result.deltas):
        outcome.status = "failed"
    return await _finish(session, raw, outcome)


def _order_skus(orders: list[OrderEvent]) -> set[str]:
    return {line.sku for o in orders for line in o.lines}


async def _apply_order(
    session: AsyncSession, order: OrderEvent, location: str, guarded: list[str], errors: list[str],
    placements: dict[str, str] | None = None,
) -> list[str]:
    keys = []
    for line in order.lines:
        key = f"{order.source}:{order.order_ref}:{line.sku}"
        loc = line.location or (placements or {}).get(line.sku) or location
        parents = (f"raw:{order.raw_event_id}",) if order.raw_event_id else ()
        try:
            async with session.begin_nested():
                if order.kind in ("created", "paid"):
                    result = await reservations.reserve(session, key=key, sku=line.sku, location=loc,
                                                        qty=int(line.qty), order_ref=order.order_ref,
                                                        parents=parents, guarded_buckets=guarded)  # fmt: skip
                    if result.status == "applied":  # the channel already shows this sale
                        await note_channel_order(session, order.source, line.sku, -int(line.qty))
                elif order.kind == "cancelled":
                    if await session.get(Reservation, key) is None:
                        await reservations.void_unseen(session, key=key, sku=line.sku, location=loc,
                                                       order_ref=order.order_ref)  # fmt: skip
                    else:
                        result = await reservations.settle(session, key, "cancel", parents=parents,
                                                           guarded_buckets=guarded)  # fmt: skip
                        if result.status == "applied":  # and the channel put the units back on sale itself
                            await note_channel_order(session, order.source, line.sku, int(line.qty))
                elif order.kind == "shipped":
                    await reservations.reserve(session, key=key, sku=line.sku, location=loc, qty=int(line.qty),
                                               order_ref=order.order_ref, parents=parents, guarded_buckets=guarded)  # fmt: skip
                    await reservations.settle(session, key, "ship", parents=parents, guarded_buckets=guarded)
            keys.append(key)
        except HubError as exc:
            errors.append(f"order {order.order_ref} line {line.sku}: {exc.detail}")
            await lineage.record(session, f"refusal:{key}:{order.kind}", kind="refusal", parents=parents,
                                 label=f"{order.kind} {order.order_ref} {line.sku}: {exc.detail}"[:300])  # fmt: skip
    return keys


async def _finish(session: AsyncSession, raw: RawEvent, outcome: Outcome) -> Outcome:
    await session.execute(update(RawEvent).where(RawEvent.id == raw.id).values(
        status=outcome.status, processed_at=utcnow(), error="\n".join(outcome.errors)[:4000] or None))  # fmt: skip
    return outcome
