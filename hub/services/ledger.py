"""Apply validated movements to the database: idempotent by key, guarded, all-or-nothing per batch.

Concurrency is handled by the database, never by read-modify-write in Python: a debit of a guarded
bucket is one ``UPDATE … SET qty = qty - n WHERE qty >= n`` (PostgreSQL re-checks the condition against
the newest committed row), credits are upserts, and each batch touches balances in sorted order so
concurrent batches cannot deadlock. The caller owns the transaction: on any error it rolls back whole.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub import lineage
from hub.domain.errors import KeyReused, WouldOverdraw
from hub.domain.ledger import Movement, check_unique_keys, is_guarded, net_deltas
from hub.storage import locks
from hub.storage.models import Balance, MovementRow, utcnow
from hub.storage.sql import core, dialect_of, insert_for, per_dialect


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


def _row_to_movement(row: Any) -> Movement:
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
    conn = await core(session)
    dialect = dialect_of(session)
    wanted = {m.key: m for m in movements}
    existing = await _existing(conn, list(wanted))
    _refuse_reused_keys(wanted, existing)

    fresh = [m for k, m in sorted(wanted.items()) if k not in existing]
    inserted: dict[str, int] = {}
    if fresh:
        inserted = await _insert_movements(conn, dialect, fresh)
        raced = [m.key for m in fresh if m.key not in inserted]
        if raced:  # a concurrent request applied the same key first: it is a duplicate now
            late = await _existing(conn, raced)
            _refuse_reused_keys(wanted, late)
            existing.update(late)
        applied = [m for m in fresh if m.key in inserted]
        await _apply_deltas(conn, dialect, applied, guarded_buckets)
        await lineage.record_many(
            session, [(f"movement:{inserted[m.key]}", "movement", _label(m), m.parents, {"key": m.key}) for m in applied]
        )
        deferred = session.info.get(_DEFERRED)
        if deferred is not None:
            deferred[0].extend(applied)
            deferred[1].update(inserted)
        else:
            await notify(session, applied, inserted)
    results = []
    for m in movements:
        if m.key in inserted:
            results.append(MovementResult(m.key, "applied", inserted[m.key], m))
        else:
            row = existing[m.key]
            results.append(MovementResult(m.key, "duplicate", row.id, _row_to_movement(row)))
    return results


async def notify(session: AsyncSession, applied: list[Movement], ids: dict[str, int]) -> None:
    for listener in LISTENERS:
        await listener(session, applied, ids)


_DEFERRED = "zhongshu_ledger_deferred"


@asynccontextmanager
async def listeners_once(session: AsyncSession) -> AsyncIterator[None]:
    """Inside the block, movements applied are told to the listeners once, together, when it ends without
    an error (a run of many events enqueues each listing's push and checks each alert once)."""
    if _DEFERRED in session.info:  # already deferred by an outer block
        yield
        return
    applied: tuple[list[Movement], dict[str, int]] = ([], {})
    session.info[_DEFERRED] = applied
    try:
        yield
    finally:
        del session.info[_DEFERRED]
    if applied[0]:
        await notify(session, *applied)


def _label(m: Movement) -> str:
    return f"{m.kind} {m.qty} × {m.sku}: {m.source} → {m.target}"


_M = MovementRow.__table__
_B = Balance.__table__
_SELECT_EXISTING = select(_M).where(_M.c.key.in_(bindparam("keys", expanding=True)))


async def _existing(conn: AsyncConnection, keys: list[str]) -> dict[str, Any]:
    if not keys:
        return {}
    return {r.key: r for r in (await conn.execute(_SELECT_EXISTING, {"keys": keys})).all()}


def _refuse_reused_keys(wanted: dict[str, Movement], existing: dict[str, Any]) -> None:
    for key, row in existing.items():
        if not wanted[key].same_content(_row_to_movement(row)):
            raise KeyReused(
                f"key {key!r} was already used for a different movement "
                f"({row.kind} {row.qty} × {row.sku}: {row.from_account} → {row.to_account})",
                key=key,
            )


@per_dialect
def _insert_movement(dialect: str) -> Any:
    return insert_for(dialect, _M).on_conflict_do_nothing(index_elements=["key"]).returning(_M.c.key, _M.c.id)


async def _insert_movements(conn: AsyncConnection, dialect: str, fresh: list[Movement]) -> dict[str, int]:
    batch, now = uuid.uuid4().hex, utcnow()
    rows = [{"key": m.key, "kind": m.kind, "sku": m.sku, "qty": m.qty, "from_account": str(m.source),
             "to_account": str(m.target), "batch": batch, "created_at": now} for m in fresh]  # fmt: skip
    result = await conn.execute(_insert_movement(dialect), rows)
    return {key: id_ for key, id_ in result.all()}


async def _apply_deltas(conn: AsyncConnection, dialect: str, applied: list[Movement], guarded_buckets: Sequence[str]) -> None:
    now = utcnow()
    debits: list[tuple[str, str, int]] = []
    credits: list[dict[str, Any]] = []
    for (sku, account), delta in net_deltas(applied).items():
        if delta < 0 and is_guarded(account, guarded_buckets):
            debits.append((sku, account, -delta))
        else:
            credits.append({"sku": sku, "account": account, "qty": delta, "version": 1, "updated_at": now})
    if debits:
        await _debit_guarded(conn, dialect, debits, now)
    if credits:
        await conn.execute(_upsert_balance(dialect), credits)  # rows arrive sorted: no deadlock between batches


_DEBIT_MANY = text("""
    UPDATE balances AS b SET qty = b.qty - d.n, version = b.version + 1, updated_at = :now
    FROM unnest(CAST(:skus AS varchar[]), CAST(:accounts AS varchar[]), CAST(:ns AS bigint[])) AS d(sku, account, n)
    WHERE b.sku = d.sku AND b.account = d.account AND b.qty >= d.n
    RETURNING b.sku, b.account""")
_DEBIT_ONE = (update(_B).where(_B.c.sku == bindparam("s"), _B.c.account == bindparam("a"), _B.c.qty >= bindparam("n"))
              .values(qty=_B.c.qty - bindparam("n"), version=_B.c.version + 1, updated_at=bindparam("now"))
              .returning(_B.c.qty))  # fmt: skip
_HELD = select(_B.c.qty).where(_B.c.sku == bindparam("s"), _B.c.account == bindparam("a"))


async def _debit_guarded(conn: AsyncConnection, dialect: str, debits: list[tuple[str, str, int]], now: Any) -> None:
    """Take every debit of a guarded bucket, each only if the bucket holds enough (checked by the database
    against the newest committed row); the first one short raises :class:`WouldOverdraw`."""
    if dialect == "postgresql" and len(debits) > 1:
        done = {(r[0], r[1]) for r in (await conn.execute(_DEBIT_MANY, {
            "now": now, "skus": [d[0] for d in debits], "accounts": [d[1] for d in debits],
            "ns": [d[2] for d in debits]})).all()}  # fmt: skip
        short = [d for d in debits if (d[0], d[1]) not in done]
    else:
        short = [d for d in debits
                 if (await conn.execute(_DEBIT_ONE, {"s": d[0], "a": d[1], "n": d[2], "now": now})).first() is None]  # fmt: skip
    if short:
        sku, account, qty = short[0]
        held = (await conn.execute(_HELD, {"s": sku, "a": account})).scalar()
        raise WouldOverdraw(sku, account, held or 0, qty)


@per_dialect
def _upsert_balance(dialect: str) -> Any:
    """One statement for every unguarded change of the batch (sent as one executemany)."""
    stmt = insert_for(dialect, _B)
    return stmt.on_conflict_do_update(
        index_elements=["sku", "account"],
        set_={"qty": _B.c.qty + stmt.excluded.qty, "version": _B.c.version + 1, "updated_at": stmt.excluded.updated_at},
    )


async def balances(session: AsyncSession, sku: str) -> list[Balance]:
    stmt = select(Balance).where(Balance.sku == sku).order_by(Balance.account)
    # populate_existing: the ledger changes balances with Core statements, which the identity map does not see
    return list((await session.execute(stmt.execution_options(populate_existing=True))).scalars().all())
