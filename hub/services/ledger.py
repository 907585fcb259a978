"""Apply validated movements to the database: idempotent by key, guarded, all-or-nothing per batch.

Concurrency is handled by the database, never by read-modify-write in Python: a debit of a guarded
bucket is one ``UPDATE … SET qty = qty - n WHERE qty >= n`` (PostgreSQL re-checks the condition against
the newest committed row), credits are upserts, and each batch touches balances in sorted order so
concurrent batches cannot deadlock. The caller owns the transaction: on any error it rolls back whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.domain.errors import KeyReused, WouldOverdraw
from hub.domain.ledger import Movement, check_unique_keys, is_guarded, net_deltas
from hub.storage import locks
from hub.storage.models import Balance, MovementRow, utcnow
from hub.storage.sql import insert


LedgerListener = Callable[[AsyncSession, list[Movement], dict[str, int]], Awaitable[None]]
LISTENERS: list[LedgerListener] = []
"""Called in the same transaction after a batch changed balances (movements applied, their ids by key):
the sync engine enqueues channel pushes here, so a change and its pushes commit together."""


@dataclass(frozen=True, slots=True)
class MovementResult:
    key: str
    status: str  # "applied" | "duplicate"
    id: int
    movement: Movement

    def as_dict(self) -> dict[str, Any]:
        m = self.movement
        return {
            "key": self.key,
            "status": self.status,
            "id": self.id,
            "lineage_id": f"movement:{self.id}",
            "sku": m.sku,
            "qty": m.qty,
            "from": str(m.source),
            "to": str(m.target),
            "kind": m.kind,
        }


def _row_to_movement(row: MovementRow) -> Movement:
    from hub.domain.ledger import Account

    return Movement(
        key=row.key,
        sku=row.sku,
        qty=row.qty,
        source=Account.parse(row.from_account),
        target=Account.parse(row.to_account),
        kind=row.kind,
    )


async def apply_movements(
    session: AsyncSession, movements: Sequence[Movement], *, guarded_buckets: Sequence[str]
) -> list[MovementResult]:
    """Apply a batch; already-applied keys come back as ``duplicate`` with their original id.

    Raises :class:`KeyReused` when a key was applied before with different content, and
    :class:`WouldOverdraw` when the batch's net effect would take a guarded bucket below zero.
    """
    check_unique_keys(list(movements))
    # the pipeline and the warehouse loop compare what a platform says with the ledger under these locks (a
    # WMS snapshot, say): a movement from anywhere else (the API, a job) must not land between the two reads
    await locks.lock(session, (f"sku:{m.sku}" for m in movements))
    wanted = {m.key: m for m in movements}
    existing = await _existing(session, list(wanted))
    _refuse_reused_keys(wanted, existing)

    fresh = [m for k, m in sorted(wanted.items()) if k not in existing]
    inserted: dict[str, int] = {}
    if fresh:
        inserted = await _insert_movements(session, fresh)
        raced = [m.key for m in fresh if m.key not in inserted]
        if raced:  # a concurrent request applied the same key first: it is a duplicate now
            late = await _existing(session, raced)
            _refuse_reused_keys(wanted, late)
            existing.update(late)
        await _apply_deltas(session, [m for m in fresh if m.key in inserted], guarded_buckets)
        await lineage.record_many(
            session,
            [
                (f"movement:{inserted[m.key]}", "movement", _label(m), m.parents, {"key": m.key})
                for m in fresh
                if m.key in inserted
            ],
        )
        applied = [m for m in fresh if m.key in inserted]
        for listener in LISTENERS:
            await listener(session, applied, inserted)
    results = []
    for m in movements:
        if m.key in inserted:
            results.append(MovementResult(m.key, "applied", inserted[m.key], m))
        else:
            results.append(MovementResult(m.key, "duplicate", existing[m.key].id, _row_to_movement(existing[m.key])))
    return results


def _label(m: Movement) -> str:
    return f"{m.kind} {m.qty} × {m.sku}: {m.source} → {m.target}"


async def _existing(session: AsyncSession, keys: list[str]) -> dict[str, MovementRow]:
    if not keys:
        return {}
    rows = (await session.execute(select(MovementRow).where(MovementRow.key.in_(keys)))).scalars().all()
    return {r.key: r for r in rows}


def _refuse_reused_keys(wanted: dict[str, Movement], existing: dict[str, MovementRow]) -> None:
    for key, row in existing.items():
        if not wanted[key].same_content(_row_to_movement(row)):
            raise KeyReused(
                f"key {key!r} was already used for a different movement "
                f"({row.kind} {row.qty} × {row.sku}: {row.from_account} → {row.to_account})",
                key=key,
            )


async def _insert_movements(session: AsyncSession, fresh: list[Movement]) -> dict[str, int]:
    batch, now = uuid.uuid4().hex, utcnow()
    rows = [
        {
            "key": m.key,
            "kind": m.kind,
            "sku": m.sku,
            "qty": m.qty,
            "from_account": str(m.source),
            "to_account": str(m.target),
            "batch": batch,
            "created_at": now,
        }
        for m in fresh
    ]
    stmt = insert(session, MovementRow).values(rows).on_conflict_do_nothing(index_elements=["key"])
    result = await session.execute(stmt.returning(MovementRow.key, MovementRow.id))
    return {key: id_ for key, id_ in result.all()}


async def _apply_deltas(session: AsyncSession, applied: list[Movement], guarded_buckets: Sequence[str]) -> None:
    now = utcnow()
    credits: list[dict[str, Any]] = []
    for (sku, account), delta in net_deltas(applied).items():
        if delta < 0 and is_guarded(account, guarded_buckets):
            await _debit_guarded(session, sku, account, -delta, now)
        else:
            credits.append({"sku": sku, "account": account, "qty": delta, "version": 1, "updated_at": now})
    if credits:
        await _upsert(session, credits)


async def _debit_guarded(session: AsyncSession, sku: str, account: str, qty: int, now: Any) -> None:
    stmt = (
        update(Balance)
        .where(Balance.sku == sku, Balance.account == account, Balance.qty >= qty)
        .values(qty=Balance.qty - qty, version=Balance.version + 1, updated_at=now)
        .returning(Balance.qty)
    )
    if (await session.execute(stmt)).first() is None:
        held = await session.scalar(select(Balance.qty).where(Balance.sku == sku, Balance.account == account))
        raise WouldOverdraw(sku, account, held or 0, qty)


async def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One multi-row upsert for every unguarded change of the batch (rows arrive sorted)."""
    stmt = insert(session, Balance).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["sku", "account"],
        set_={"qty": Balance.qty + stmt.excluded.qty, "version": Balance.version + 1,
              "updated_at": stmt.excluded.updated_at},
    )  # fmt: skip
    await session.execute(stmt)


async def balances(session: AsyncSession, sku: str) -> list[Balance]:
    stmt = select(Balance).where(Balance.sku == sku).order_by(Balance.account)
    return list((await session.execute(stmt)).scalars().all())
