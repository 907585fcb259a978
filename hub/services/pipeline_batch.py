"""A source's pending events processed together: what the ``inbox.process`` job runs.

:func:`hub.services.pipeline.process` takes one event through mappings, cube, arbitration, ledger and
views in about forty statements. Under load a source has dozens of events waiting, and nearly all of them
are marketplace orders and channel stock levels, which need neither arbitration nor the warehouse loop.
Those *plain* events are taken as one run, in one transaction: their reservations, cancels and shipments,
observations, channel notes, pushes, view values, lineage and raw-event statuses are written with a
handful of set-based statements for the whole run. Anything else (a WMS confirmation or snapshot, a
count to arbitrate, an order the warehouse loop routes) goes through :func:`pipeline.process` alone.

The outcome per event is what :func:`pipeline.process` would record; when a run meets anything that
path would refuse for one line (stock short, a key reused, a cancel after shipment) it is rolled back to
its savepoint and taken one event at a time by :func:`pipeline.process`, so refusals read the same.
Operations on different orders of one run may happen in another order than the events arrived (cancels
first, which free stock, then holds, then shipments): the same freedom the per-event path has when it
runs events of a source concurrently under per-sku locks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.channels import cached_source
from hub.domain.errors import HubError
from hub.metrics import INBOUND
from hub.semantics import Semantics
from hub.services import enrich, ledger, pipeline, reservations
from hub.services import observations as obs_store
from hub.services import views as view_service
from hub.services.arbitration import arbitrated_types
from hub.services.observations import is_canonical
from hub.storage import locks
from hub.storage.models import RawEvent, Source, utcnow
from hub.storage.models_warehouse import DeliveryOrder
from hub.storage.sql import core
from hub.sync.engine import note_channel_orders
from hub.warehouse.outbound import rule_for
from mappings.engine import MappingResult
from semantic_layer.observation import Observation

log = logging.getLogger("zhongshu.pipeline")
SLOW_PLATFORMS = frozenset({"qimen", "tms"})
"""Sources whose events the warehouse loop books (confirmations, snapshots, stock changes, tracking)."""


@dataclass
class _Event:
    """One pending raw event, mapped (outside any transaction: mapping is pure)."""

    id: int
    source: str
    topic: str
    platform_event_id: str
    kind: str
    location: str
    result: MappingResult | None = None
    canonical: list[Observation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    plain: bool = False


class _Fallback(Exception):
    """The run needs the per-event path (a refusal to record per line, or the warehouse loop)."""


Finish = Callable[[AsyncSession, Sequence[int]], Awaitable[None]]
"""Called with raw event ids in the transaction that settles them (the job marks its rows done there)."""


async def _nothing(session: AsyncSession, raw_ids: Sequence[int]) -> None:
    return None


async def process_batch(
    sessionmaker: async_sessionmaker[AsyncSession], sem: Semantics, raw_ids: Sequence[int], *,
    guarded_buckets: list[str], default_location: str, finish: Finish = _nothing,
) -> dict[int, BaseException]:  # fmt: skip
    """Process pending raw events (of one source, in id order); the failures by raw event id (absent:
    done, and ``finish`` was told in the transaction that did it). A failure leaves its event pending,
    to be retried alone. The transaction that reads the events carries the first run when it is plain
    (usually the whole batch): one transaction for the lot."""
    wanted = sorted(set(raw_ids))
    failures: dict[int, BaseException] = {}
    first: list[_Event] = []
    settled: list[int] = []
    statuses: list[tuple[str, list[str]]] = []
    async with sessionmaker() as session:
        try:
            async with session.begin():
                events = await _load(session, sem, wanted, default_location)  # locked while this lasts
                settled = sorted(set(wanted) - {e.id for e in events})  # processed before: done
                runs = _runs(events)
                if runs and runs[0][0].plain:
                    first, runs = runs[0], runs[1:]
                await finish(session, [*settled, *(e.id for e in first)])
                if first:
                    statuses = await _apply_run(session, sem, first, guarded_buckets)
        except Exception as exc:  # noqa: BLE001 - the first run again, one event at a time (or all failed)
            if not first:
                return {raw_id: exc for raw_id in wanted}
            if not isinstance(exc, (HubError, _Fallback)):  # a refusal is recorded per line; anything else is news
                log.warning("run of %d events of %s taken one by one: %r", len(first), first[0].source, exc)
            failures |= await _one_by_one(sessionmaker, sem, first, guarded_buckets, default_location, finish,
                                          also_done=settled)  # fmt: skip
            statuses = []  # rolled back: the per-event path counted its own
    _count(statuses)
    for run in runs:
        if run[0].plain:
            failures |= await _run_plain(sessionmaker, sem, run, guarded_buckets, default_location, finish)
        else:
            failures |= await _run_one(sessionmaker, sem, run[0].id, guarded_buckets, default_location, finish)
    return failures


def _count(statuses: list[tuple[str, list[str]]]) -> None:
    for status, _ in statuses:
        INBOUND.labels(source="*", outcome=status).inc()


def _runs(events: list[_Event]) -> list[list[_Event]]:
    """Consecutive plain events form one run; every other event is a run of its own."""
    runs: list[list[_Event]] = []
    for event in events:
        if event.plain and runs and runs[-1][0].plain:
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs


# -- reading and mapping -------------------------------------------------------------------------------
_R = RawEvent.__table__
_PENDING = (select(_R.c.id, _R.c.source, _R.c.topic, _R.c.platform_event_id, _R.c.payload, _R.c.body,
                   _R.c.received_at).where(_R.c.id.in_(bindparam("ids", expanding=True)), _R.c.status == "pending")
            .order_by(_R.c.id).with_for_update())  # fmt: skip


async def _load(session: AsyncSession, sem: Semantics, raw_ids: list[int], default_location: str) -> list[_Event]:
    """The pending events, locked (a replay or a re-armed job may have processed some: they are left out)."""
    rows = (await (await core(session)).execute(_PENDING, {"ids": raw_ids})).all()
    sources = {name: await cached_source(session, name) for name in sorted({r.source for r in rows})}
    physical = arbitrated_types(sem)
    return [_map(sem, row, sources[row.source], physical, default_location) for row in rows]


def _map(sem: Semantics, row: Any, source: Source | None, physical: set[str], default_location: str) -> _Event:
    kind = source.platform if source is not None else sem.kind_of(row.source)
    if source is not None:
        sem.know_instance(source.name, source.platform)
    location = (source.default_location if source is not None else "") or default_location
    event = _Event(row.id, row.source, row.topic or "", row.platform_event_id, kind, location)
    if kind in SLOW_PLATFORMS:
        return event
    try:
        payload = row.payload if row.payload is not None else json.loads(row.body)
    except (ValueError, UnicodeDecodeError):
        return event  # recorded as failed by the per-event path, with the parser's words
    result = sem.mappings.apply(kind, event.topic, payload, raw_event_id=row.id, received_at=row.received_at,
                                source=row.source)  # fmt: skip
    event.result = enrich.resolve_skus(source, result)
    if event.result.deltas:
        return event
    event.canonical, failed = sem.dictionary.canonicalize(event.result.observations)
    event.errors = [*event.result.errors, *(f"{d.claim.stock_type} of {d.claim.sku}: {d.reason}" for d in failed)]
    routed = rule_for(source)
    event.plain = not any(o.stock_type in physical and is_canonical(o.stock_type) for o in event.canonical) and not (
        event.result.orders and routed.enabled and routed.warehouses)
    return event


# -- one event, the per-event way ----------------------------------------------------------------------
async def _run_one(sessionmaker: async_sessionmaker[AsyncSession], sem: Semantics, raw_id: int,
                   guarded_buckets: list[str], default_location: str, finish: Finish) -> dict[int, BaseException]:  # fmt: skip
    try:
        async with sessionmaker() as session, session.begin():
            outcome = await pipeline.process(session, sem, raw_id, guarded_buckets=guarded_buckets,
                                             default_location=default_location)  # fmt: skip
            await finish(session, [raw_id])
    except Exception as exc:  # noqa: BLE001 - recorded on this event's job; the others go on
        return {raw_id: exc}
    INBOUND.labels(source="*", outcome=outcome.status).inc()
    return {}


# -- a run of plain events -------------------------------------------------------------------------------
_LOCK_PENDING = (select(_R.c.id).where(_R.c.id.in_(bindparam("ids", expanding=True)), _R.c.status == "pending")
                 .order_by(_R.c.id).with_for_update())  # fmt: skip
_FINISH = (update(_R).where(_R.c.id == bindparam("rid"))
           .values(status=bindparam("st"), processed_at=bindparam("at"), error=bindparam("err")))  # fmt: skip
_D = DeliveryOrder.__table__
_WMS_ORDERS = select(_D.c.order_ref).where(_D.c.source == bindparam("source"),
                                           _D.c.order_ref.in_(bindparam("refs", expanding=True)))  # fmt: skip


async def _run_plain(sessionmaker: async_sessionmaker[AsyncSession], sem: Semantics, run: list[_Event],
                     guarded_buckets: list[str], default_location: str, finish: Finish) -> dict[int, BaseException]:  # fmt: skip
    """A later run of the batch, in a transaction of its own."""
    try:
        async with sessionmaker() as session, session.begin():
            await finish(session, [e.id for e in run])
            run = await _lock_pending(session, run)
            statuses = await _apply_run(session, sem, run, guarded_buckets)
    except (HubError, _Fallback):  # every event again, alone: refusals are recorded per line
        return await _one_by_one(sessionmaker, sem, run, guarded_buckets, default_location, finish)
    except Exception as exc:  # noqa: BLE001 - a fault of this path, or of the database: the per-event path decides
        log.warning("run of %d events of %s taken one by one: %r", len(run), run[0].source, exc)
        return await _one_by_one(sessionmaker, sem, run, guarded_buckets, default_location, finish)
    _count(statuses)
    return {}


async def _apply_run(session: AsyncSession, sem: Semantics, run: list[_Event],
                     guarded_buckets: list[str]) -> list[tuple[str, list[str]]]:  # fmt: skip
    """The run's effects and its events' outcomes, in the caller's transaction (raising, it writes nothing
    the caller keeps: the caller rolls back; the caller tells ``finish``)."""
    async with locks.holding(session, (f"sku:{s}" for e in run for s in _skus(e))), ledger.listeners_once(session):
        statuses = await _apply(session, sem, run, guarded_buckets)
    now = utcnow()
    await (await core(session)).execute(_FINISH, [
        {"rid": e.id, "st": st, "at": now, "err": "\n".join(errs)[:4000] or None}
        for e, (st, errs) in zip(run, statuses, strict=True)])  # fmt: skip
    return statuses


async def _lock_pending(session: AsyncSession, run: list[_Event]) -> list[_Event]:
    """The run's events still pending, locked (a replay or a re-armed job may have processed some: done)."""
    pending = set((await (await core(session)).execute(_LOCK_PENDING, {"ids": [e.id for e in run]})).scalars())
    return [e for e in run if e.id in pending]


async def _one_by_one(sessionmaker: async_sessionmaker[AsyncSession], sem: Semantics, run: list[_Event],
                      guarded_buckets: list[str], default_location: str, finish: Finish, *,
                      also_done: Sequence[int] = ()) -> dict[int, BaseException]:  # fmt: skip
    """The run in the per-event way, in one transaction that locks its events and skus first (so no other
    run slips between them), each event in a savepoint, so one event that fails leaves the others done."""
    failures: dict[int, BaseException] = {}
    all_ids = [e.id for e in run]
    try:
        async with sessionmaker() as session, session.begin():
            run = await _lock_pending(session, run)
            await locks.lock(session, (f"sku:{s}" for e in run for s in _skus(e)))
            for event in run:
                try:
                    async with session.begin_nested():
                        outcome = await pipeline.process(session, sem, event.id, guarded_buckets=guarded_buckets,
                                                         default_location=default_location)  # fmt: skip
                except Exception as exc:  # noqa: BLE001 - recorded on this event's job
                    failures[event.id] = exc
                    continue
                INBOUND.labels(source="*", outcome=outcome.status).inc()
            await finish(session, [*also_done, *(i for i in all_ids if i not in failures)])
    except Exception as exc:  # noqa: BLE001 - the transaction failed: every event retries
        return {i: exc for i in all_ids}
    return failures


def _skus(event: _Event) -> set[str]:
    result = event.result
    if result is None or result.unmapped:
        return set()
    return {o.sku for o in event.canonical} | {line.sku for o in result.orders for line in o.lines}


async def _apply(session: AsyncSession, sem: Semantics, run: list[_Event],
                 guarded_buckets: list[str]) -> list[tuple[str, list[str]]]:  # fmt: skip
    """Write the run's effects; the (status, errors) of each event, in run order."""
    mapped = [e for e in run if e.result is not None and not e.result.unmapped]
    await _request_details(session, run)
    stored = await obs_store.store_many(session, [o for e in mapped for o in e.canonical])
    inserted: dict[int, list[Observation]] = {}
    for obs, obs_id in zip([o for e in mapped for o in e.canonical], stored, strict=True):
        if obs_id is not None:
            inserted.setdefault(obs.raw_event_id or 0, []).append(obs)
    await _check_no_wms_orders(session, mapped)
    await _apply_orders(session, mapped, guarded_buckets)
    await _recompute_views(session, sem, mapped, inserted)
    statuses = []
    for e in run:
        if e.result is None or e.result.unmapped:
            statuses.append(("unmapped", list(e.result.errors) if e.result else []))
        elif e.result.errors and not (inserted.get(e.id) or e.result.orders):
            statuses.append(("failed", e.errors))
        else:
            statuses.append(("processed", e.errors))
    return statuses


async def _request_details(session: AsyncSession, run: list[_Event]) -> None:
    wanted = [e for e in run if e.result is not None and enrich.wants_detail(e.kind, e, e.result)]
    if not wanted:
        return
    held = await reservations.orders_held(session, run[0].source,
                                          sorted(set().union(*(enrich.orders_to_look_up(e.result) for e in wanted))))  # type: ignore[arg-type]  # fmt: skip
    await enrich.request(session, run[0].source, [e.id for e in wanted if e.result is not None and enrich.needs_fetch(
        e.kind, e, e.result, held)])  # fmt: skip


async def _check_no_wms_orders(session: AsyncSession, mapped: list[_Event]) -> None:
    """A cancel, shipment or return of an order a WMS delivery order carries is the warehouse loop's."""
    refs = sorted({o.order_ref for e in mapped for o in e.result.orders  # type: ignore[union-attr]
                   if o.kind in ("cancelled", "shipped", "returned")})  # fmt: skip
    if refs and (await (await core(session)).execute(_WMS_ORDERS, {"source": mapped[0].source, "refs": refs})).first():
        raise _Fallback("an order of the run is carried by a WMS delivery order")


@dataclass(frozen=True)
class _Op:
    kind: str  # "reserve" | "cancel" | "ship"
    hold: reservations.Hold
    source: str


def _waves(mapped: list[_Event]) -> list[dict[str, _Op]]:
    """Every order line as an operation on its reservation key, grouped in waves: a wave touches each key
    once, so its operations may run in any order; a key met again with another operation starts a wave."""
    waves: list[dict[str, _Op]] = [{}]
    for e in mapped:
        for order in e.result.orders:  # type: ignore[union-attr]
            op = {"created": "reserve", "paid": "reserve", "cancelled": "cancel", "shipped": "ship"}.get(order.kind)
            for line in order.lines if op else ():
                key = f"{order.source}:{order.order_ref}:{line.sku}"
                hold = reservations.Hold(key, line.sku, line.location or e.location, int(line.qty), order.order_ref,
                                         parents=(f"raw:{order.raw_event_id}",) if order.raw_event_id else ())  # fmt: skip
                seen = waves[-1].get(key)
                if seen is not None and (seen.kind, seen.hold.sku, seen.hold.location, seen.hold.qty) == (
                        op, hold.sku, hold.location, hold.qty):  # fmt: skip
                    continue  # the same operation again: a duplicate, as the per-event path would find
                if seen is not None:
                    waves.append({})
                waves[-1][key] = _Op(op, hold, order.source)
    return [w for w in waves if w]


async def _apply_orders(session: AsyncSession, mapped: list[_Event], guarded: list[str]) -> None:
    notes: dict[tuple[str, str], int] = {}
    for wave in _waves(mapped):
        cancels = [op for op in wave.values() if op.kind == "cancel"]
        if cancels:
            known = await reservations.existing_keys(session, [op.hold.key for op in cancels])
            await reservations.void_unseen_many(session, [op.hold for op in cancels if op.hold.key not in known])
            held = {op.hold.key: op.hold.parents for op in cancels if op.hold.key in known}
            for done in await reservations.settle_many(session, "cancel", held, guarded_buckets=guarded) if held else ():
                if done.status == "applied":  # the channel put the units its cancel names back on sale itself
                    _note(notes, wave[done.key], wave[done.key].hold.qty)
        holds = [op.hold for op in wave.values() if op.kind in ("reserve", "ship")]
        for done in await reservations.reserve_many(session, holds, guarded_buckets=guarded) if holds else ():
            if done.status == "applied" and wave[done.key].kind == "reserve":  # the channel already shows this sale
                _note(notes, wave[done.key], -wave[done.key].hold.qty)
        ships = {op.hold.key: op.hold.parents for op in wave.values() if op.kind == "ship"}
        if ships:
            await reservations.settle_many(session, "ship", ships, guarded_buckets=guarded)
    # once, in (shop, sku) order: a shop's push records its listings in sku order too, so neither can hold
    # one listing's row while waiting for another's the other holds
    await note_channel_orders(session, notes)


def _note(notes: dict[tuple[str, str], int], op: _Op, delta: int) -> None:
    key = (op.source, op.hold.sku)
    notes[key] = notes.get(key, 0) + delta


async def _recompute_views(session: AsyncSession, sem: Semantics, mapped: list[_Event],
                           inserted: dict[int, list[Observation]]) -> None:  # fmt: skip
    """The views each event's changes can affect: every view of a sku an order touched, the views reading
    a changed cube cell otherwise (as the per-event path chooses them)."""
    wanted: dict[str, dict[str, Any] | None] = {}
    for e in mapped:
        rows = inserted.get(e.id, [])
        order_skus = {line.sku for o in e.result.orders for line in o.lines}  # type: ignore[union-attr]
        for sku in {r.sku for r in rows} | order_skus:
            if e.result.orders:  # type: ignore[union-attr]
                wanted[sku] = None
            elif sku not in wanted or wanted[sku] is not None:
                changed = {(r.source, r.stock_type, r.location) for r in rows if r.sku == sku}
                views = wanted.get(sku) or {}
                views.update({v.name: v for v in view_service.affected(sem, changed)})
                wanted[sku] = views
    await view_service.recompute_many(session, sem, {sku: (list(v.values()) if v is not None else None)
                                                     for sku, v in wanted.items()})  # fmt: skip
