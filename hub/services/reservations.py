"""Reservations: two-phase holds on free stock (TigerBeetle's pending transfers, with a timeout).

``reserve`` moves free→reserved now; ``ship`` posts it (reserved→customer); ``cancel`` and expiry void it
(reserved→free). Each phase is a ledger movement with a key derived from the reservation key, so every
call is idempotent, and the status change is one conditional ``UPDATE``, so a ship racing a cancel has
exactly one winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.domain.errors import InvalidRequest, InvalidTransition, KeyReused, NotFound
from hub.domain.ledger import make_movement
from hub.services.ledger import MovementResult, apply_movements
from hub.storage.models import MovementRow, Reservation, utcnow
from hub.storage.sql import core, dialect_of, insert_for, per_dialect

#: status a phase moves to, the statuses it may start from, and its movement
PHASES = {
    "ship": ("shipped", "ship", "{loc}/reserved", "customer"),
    "cancel": ("cancelled", "release", "{loc}/reserved", "{loc}/free"),
    "expire": ("expired", "release", "{loc}/reserved", "{loc}/free"),
}


@dataclass(frozen=True, slots=True)
class ReservationResult:
    reservation: Reservation
    status: str  # "applied" | "duplicate"
    movement: MovementResult | None

    def as_dict(self) -> dict[str, Any]:
        r = self.reservation
        return {
            "key": r.key,
            "result": self.status,
            "sku": r.sku,
            "location": r.location,
            "qty": r.qty,
            "order_ref": r.order_ref,
            "status": r.status,
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "movement": self.movement.as_dict() if self.movement else None,
        }


@dataclass(frozen=True, slots=True)
class Hold:
    """One reservation to make: ``qty`` of ``sku`` held at ``location`` under ``key``."""

    key: str
    sku: str
    location: str
    qty: int
    order_ref: str = ""
    expires_at: datetime | None = None
    parents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What :func:`reserve_many` or :func:`settle_many` did to one reservation (no ORM object: batch paths)."""

    key: str
    status: str  # "applied" | "duplicate"
    sku: str
    location: str
    qty: int
    movement: MovementResult | None = None


async def reserve(
    session: AsyncSession,
    *,
    key: str,
    sku: str,
    location: str,
    qty: int,
    order_ref: str = "",
    expires_at: datetime | None = None,
    parents: Sequence[str] = (),
    guarded_buckets: Sequence[str],
) -> ReservationResult:
    [done] = await reserve_many(session, [Hold(key, sku, location, qty, order_ref, expires_at, tuple(parents))],
                                guarded_buckets=guarded_buckets)  # fmt: skip
    return ReservationResult(await _get(session, key), done.status, done.movement)


async def reserve_many(session: AsyncSession, holds: Sequence[Hold], *, guarded_buckets: Sequence[str]) -> list[Outcome]:
    """Hold every reservation (keys distinct); one already made is a ``duplicate`` (so is one cancelled
    before its order arrived: it stays void). All or nothing: raises :class:`KeyReused` for a key held
    for something else and :class:`WouldOverdraw` when the free stock is short."""
    for h in holds:
        if h.expires_at is not None and h.expires_at.tzinfo is None:
            raise InvalidRequest("expires_at must include a timezone", field="expires_at")
    movements = {h.key: make_movement(key=f"{h.key}#reserve", sku=h.sku, qty=h.qty, source=f"{h.location}/free",
                                      target=f"{h.location}/reserved", kind="reserve", parents=h.parents)
                 for h in holds}  # fmt: skip
    now = utcnow()
    rows = [{"key": h.key, "sku": h.sku, "location": h.location, "qty": h.qty, "order_ref": h.order_ref,
             "status": "held", "expires_at": h.expires_at, "created_at": now, "updated_at": now} for h in holds]  # fmt: skip
    conn = await core(session)
    created = {r[0] for r in (await conn.execute(_insert_held(dialect_of(session)), rows)).all()}
    known = await _rows(conn, [h.key for h in holds if h.key not in created])
    for h in holds:
        row = known.get(h.key)
        if row is not None and row.status not in ("cancelled", "expired") and (row.sku, row.location, row.qty) != (
                h.sku, h.location, h.qty):  # fmt: skip
            raise KeyReused(f"reservation {h.key!r} already exists for {row.qty} × {row.sku} at {row.location}", key=h.key)
    fresh = [movements[h.key] for h in holds if h.key in created]
    applied = {r.key: r for r in await apply_movements(session, fresh, guarded_buckets=guarded_buckets)} if fresh else {}
    return [Outcome(h.key, "applied", h.sku, h.location, h.qty, applied[f"{h.key}#reserve"]) if h.key in created
            else Outcome(h.key, "duplicate", known[h.key].sku, known[h.key].location, known[h.key].qty)
            for h in holds]  # fmt: skip


async def settle(
    session: AsyncSession, key: str, phase: str, *, parents: Sequence[str] = (), guarded_buckets: Sequence[str]
) -> ReservationResult:
    """Ship, cancel or expire a held reservation. Repeating the same phase is a duplicate, not an error."""
    [done] = await settle_many(session, phase, {key: tuple(parents)}, guarded_buckets=guarded_buckets)
    return ReservationResult(await _get(session, key), done.status, done.movement)


async def settle_many(
    session: AsyncSession, phase: str, keys: dict[str, tuple[str, ...]], *, guarded_buckets: Sequence[str]
) -> list[Outcome]:
    """:func:`settle` each reservation of ``keys`` (key → lineage parents) in one ``phase``. The status
    change is one conditional ``UPDATE``, so a ship racing a cancel has exactly one winner. All or nothing:
    :class:`NotFound` for an unknown key, :class:`InvalidTransition` for one already settled otherwise."""
    new_status, kind, source, target = PHASES[phase]
    conn = await core(session)
    changed = {r.key: r for r in (await conn.execute(
        _SETTLE, {"keys": list(keys), "status": new_status, "now": utcnow()})).all()}  # fmt: skip
    others = await _rows(conn, [k for k in keys if k not in changed])
    for key in keys:
        if key in changed:
            continue
        current = others.get(key)
        if current is None:
            raise NotFound(f"no reservation {key!r}", key=key)
        if current.status != new_status:
            raise InvalidTransition(f"reservation {key!r} is {current.status}; it can no longer be {new_status}",
                                    key=key, current_status=current.status)  # fmt: skip
    reserve_ids = {}
    if changed:
        found = await conn.execute(_MOVEMENT_IDS, {"keys": [f"{k}#reserve" for k in changed]})
        reserve_ids = {k.removesuffix("#reserve"): i for k, i in found.all()}
    movements = [make_movement(
        key=f"{key}#{kind}", sku=r.sku, qty=r.qty, source=source.format(loc=r.location),
        target=target.format(loc=r.location), kind=kind,
        parents=(*keys[key], *((f"movement:{reserve_ids[key]}",) if key in reserve_ids else ())),
    ) for key, r in changed.items()]  # fmt: skip
    applied = {m.key: m for m in await apply_movements(session, movements, guarded_buckets=guarded_buckets)} if movements else {}
    out = []
    for key in keys:
        if key in changed:
            r = changed[key]
            out.append(Outcome(key, "applied", r.sku, r.location, r.qty, applied[f"{key}#{kind}"]))
        else:
            r = others[key]
            out.append(Outcome(key, "duplicate", r.sku, r.location, r.qty))
    return out


async def due_for_expiry(session: AsyncSession, *, limit: int = 200) -> list[str]:
    stmt = (
        select(Reservation.key)
        .where(Reservation.status == "held", Reservation.expires_at.is_not(None), Reservation.expires_at <= utcnow())
        .order_by(Reservation.expires_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def _get(session: AsyncSession, key: str) -> Reservation:
    reservation = await session.get(Reservation, key, populate_existing=True)
    if reservation is None:
        raise NotFound(f"no reservation {key!r}", key=key)
    return reservation


async def void_unseen(session: AsyncSession, *, key: str, sku: str, location: str, order_ref: str = "") -> bool:
    """A cancel that arrived before its order: leave a cancelled marker so the late order reserves nothing."""
    return bool(await void_unseen_many(session, [Hold(key, sku, location, 0, order_ref)]))


async def void_unseen_many(session: AsyncSession, holds: Sequence[Hold]) -> set[str]:
    """:func:`void_unseen` for each hold (its ``qty`` ignored); the keys that got a marker."""
    now = utcnow()
    rows = [{"key": h.key, "sku": h.sku, "location": h.location, "qty": 0, "order_ref": h.order_ref,
             "status": "cancelled", "expires_at": None, "created_at": now, "updated_at": now} for h in holds]  # fmt: skip
    if not rows:
        return set()
    conn = await core(session)
    return {r[0] for r in (await conn.execute(_insert_held(dialect_of(session)), rows)).all()}


async def existing_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` name a reservation (in any status)."""
    if not keys:
        return set()
    conn = await core(session)
    return set((await conn.execute(_KEYS, {"keys": list(keys)})).scalars().all())


async def orders_held(session: AsyncSession, source: str, order_refs: Sequence[str]) -> set[str]:
    """The orders of ``source`` among ``order_refs`` for which a reservation was ever made (their lines are
    known: a later push naming the order adds nothing to fetch)."""
    if not order_refs:
        return set()
    conn = await core(session)
    rows = await conn.execute(_ORDERS, {"refs": list(order_refs), "prefix": f"{source}:"})
    return {ref for ref, key in rows.all() if key.startswith(f"{source}:{ref}:")}


_R = Reservation.__table__


@per_dialect
def _insert_held(dialect: str) -> Any:
    return insert_for(dialect, _R).on_conflict_do_nothing(index_elements=["key"]).returning(_R.c.key)


_ROWS = select(_R.c.key, _R.c.sku, _R.c.location, _R.c.qty, _R.c.status).where(
    _R.c.key.in_(bindparam("keys", expanding=True)))  # fmt: skip
_KEYS = select(_R.c.key).where(_R.c.key.in_(bindparam("keys", expanding=True)))
_ORDERS = select(_R.c.order_ref, _R.c.key).where(_R.c.order_ref.in_(bindparam("refs", expanding=True)),
                                                 _R.c.key.startswith(bindparam("prefix")))  # fmt: skip
_SETTLE = (update(_R).where(_R.c.key.in_(bindparam("keys", expanding=True)), _R.c.status == "held")
           .values(status=bindparam("status"), updated_at=bindparam("now"))
           .returning(_R.c.key, _R.c.sku, _R.c.location, _R.c.qty))  # fmt: skip
_MOVEMENT_IDS = select(MovementRow.__table__.c.key, MovementRow.__table__.c.id).where(
    MovementRow.__table__.c.key.in_(bindparam("keys", expanding=True)))  # fmt: skip


async def _rows(conn: AsyncConnection, keys: list[str]) -> dict[str, Any]:
    if not keys:
        return {}
    return {r.key: r for r in (await conn.execute(_ROWS, {"keys": keys})).all()}
