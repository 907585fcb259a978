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

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import InvalidRequest, InvalidTransition, KeyReused, NotFound
from hub.domain.ledger import make_movement
from hub.services.ledger import MovementResult, apply_movements
from hub.storage.models import MovementRow, Reservation, utcnow
from hub.storage.sql import insert

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
    movement = make_movement(
        key=f"{key}#reserve", sku=sku, qty=qty, source=f"{location}/free", target=f"{location}/reserved",
        kind="reserve", parents=parents,
    )  # fmt: skip
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidRequest("expires_at must include a timezone", field="expires_at")
    now = utcnow()
    row = {"key": key, "sku": sku, "location": location, "qty": qty, "order_ref": order_ref,
           "status": "held", "expires_at": expires_at, "created_at": now, "updated_at": now}  # fmt: skip
    stmt = insert(session, Reservation).values(row).on_conflict_do_nothing(index_elements=["key"])
    created = (await session.execute(stmt.returning(Reservation.key))).first() is not None
    reservation = await _get(session, key)
    if not created:
        if reservation.status in ("cancelled", "expired"):
            return ReservationResult(reservation, "duplicate", None)  # cancelled first (out of order): stays void
        if (reservation.sku, reservation.location, reservation.qty) != (sku, location, qty):
            raise KeyReused(f"reservation {key!r} already exists for {reservation.qty} × {reservation.sku} "
                            f"at {reservation.location}", key=key)  # fmt: skip
        return ReservationResult(reservation, "duplicate", None)
    [result] = await apply_movements(session, [movement], guarded_buckets=guarded_buckets)
    return ReservationResult(reservation, "applied", result)


async def settle(
    session: AsyncSession, key: str, phase: str, *, parents: Sequence[str] = (), guarded_buckets: Sequence[str]
) -> ReservationResult:
    """Ship, cancel or expire a held reservation. Repeating the same phase is a duplicate, not an error."""
    new_status, kind, source, target = PHASES[phase]
    current = await _get(session, key)
    stmt = (
        update(Reservation)
        .where(Reservation.key == key, Reservation.status == "held")
        .values(status=new_status, updated_at=utcnow())
        .returning(Reservation.key)
    )
    if (await session.execute(stmt)).first() is None:
        await session.refresh(current)
        if current.status == new_status:
            return ReservationResult(current, "duplicate", None)
        raise InvalidTransition(
            f"reservation {key!r} is {current.status}; it can no longer be {new_status}", key=key, current_status=current.status
        )
    loc = current.location
    reserve_id = await session.scalar(select(MovementRow.id).where(MovementRow.key == f"{key}#reserve"))
    lineage_parents = (*parents, f"movement:{reserve_id}") if reserve_id else tuple(parents)
    movement = make_movement(
        key=f"{key}#{kind}", sku=current.sku, qty=current.qty, source=source.format(loc=loc),
        target=target.format(loc=loc), kind=kind, parents=lineage_parents,
    )  # fmt: skip
    [result] = await apply_movements(session, [movement], guarded_buckets=guarded_buckets)
    await session.refresh(current)
    return ReservationResult(current, "applied", result)


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
    now = utcnow()
    row = {"key": key, "sku": sku, "location": location, "qty": 0, "order_ref": order_ref, "status": "cancelled",
           "expires_at": None, "created_at": now, "updated_at": now}  # fmt: skip
    stmt = insert(session, Reservation).values(row).on_conflict_do_nothing(index_elements=["key"])
    return (await session.execute(stmt.returning(Reservation.key))).first() is not None
