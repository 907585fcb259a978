"""Read queries the console needs that no service offers, plus the one small write it owns: retrying a
dead job. Everything works unchanged on SQLite and PostgreSQL; time bucketing happens in Python."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import InvalidTransition, NotFound
from hub.storage.models import (
    Balance,
    DecisionRow,
    Job,
    MovementRow,
    ObservationRow,
    RawEvent,
    Reservation,
    Source,
    utcnow,
)

ERROR_STATUSES = ("failed", "unmapped", "refused")
SPARK_MINUTES = 60
MAX_SPARK_ROWS = 100_000


async def sources_health(session: AsyncSession, *, now: datetime) -> list[dict[str, Any]]:
    """Every source instance (registered or only seen in raw events) with event counts by status,
    error count, last event time and events per minute over the last hour."""
    registered = {s.name: s for s in (await session.execute(select(Source).order_by(Source.name))).scalars()}
    stats = (await session.execute(
        select(RawEvent.source, RawEvent.status, func.count(), func.max(RawEvent.received_at))
        .group_by(RawEvent.source, RawEvent.status))).all()  # fmt: skip
    since = now - timedelta(minutes=SPARK_MINUTES)
    stmt = select(RawEvent.source, RawEvent.received_at).where(RawEvent.received_at >= since).limit(MAX_SPARK_ROWS)
    recent = (await session.execute(stmt)).all()
    rows: dict[str, dict[str, Any]] = {}
    for name, src in registered.items():
        rows[name] = {"name": name, "platform": src.platform, "trust": src.trust, "enabled": src.enabled,
                      "registered": True, "by_status": {}, "events": 0, "errors": 0, "last_event": None,
                      "moments": []}  # fmt: skip
    for name, status, n, last in stats:
        row = rows.setdefault(name, {"name": name, "platform": name.split("_", 1)[0], "trust": None, "enabled": True,
                                     "registered": False, "by_status": {}, "events": 0, "errors": 0,
                                     "last_event": None, "moments": []})  # fmt: skip
        row["by_status"][status] = int(n)
        row["events"] += int(n)
        if status in ERROR_STATUSES:
            row["errors"] += int(n)
        last = _aware(last)
        if last is not None and (row["last_event"] is None or last > row["last_event"]):
            row["last_event"] = last
    for name, received in recent:
        if name in rows:
            rows[name]["moments"].append(_aware(received))
    return sorted(rows.values(), key=lambda r: r["name"])


def _aware(value: datetime | None) -> datetime | None:

    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


async def raw_by_status(session: AsyncSession) -> dict[str, int]:
    rows = (await session.execute(select(RawEvent.status, func.count()).group_by(RawEvent.status))).all()
    return {s: int(n) for s, n in sorted(rows)}


async def jobs_by_state(session: AsyncSession) -> dict[str, int]:
    rows = (await session.execute(select(Job.state, func.count()).group_by(Job.state))).all()
    return {s: int(n) for s, n in sorted(rows)}


async def quarantine_count(session: AsyncSession) -> int:
    stmt = select(func.count()).select_from(DecisionRow).where(DecisionRow.status == "pending")
    return int(await session.scalar(stmt) or 0)


async def jobs(session: AsyncSession, state: str, *, limit: int = 50) -> list[Job]:
    order = Job.finished_at.desc() if state == "dead" else Job.run_at
    stmt = select(Job).where(Job.state == state).order_by(order, Job.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def retry_job(session: AsyncSession, job_id: int) -> Job:
    """Put a dead job back in the queue: pending, due now, attempts reset. The caller commits and kicks
    the queue. When a pending job with the same key exists already it will do the work: 409 then."""
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.state != "dead":
        raise InvalidTransition(f"job {job_id} is {job.state}; only dead jobs can be retried")
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(Job).where(Job.id == job_id, Job.state == "dead")
                .values(state="pending", attempts=0, run_at=utcnow(), claimed_at=None, finished_at=None)
                .returning(Job.id))  # fmt: skip
            if result.first() is None:
                raise InvalidTransition(f"job {job_id} changed state meanwhile; reload and try again")
    except IntegrityError:
        raise InvalidTransition(
            f"a pending job with key {job.job_key!r} is queued already; it will do this work") from None
    await session.refresh(job)
    return job


async def search_skus(session: AsyncSession, q: str, *, limit: int = 30) -> list[tuple[str, str]]:
    """``(sku, why)`` for skus equal to or starting with ``q``, and skus of orders whose ref is ``q``."""
    q = q.strip()
    if not q:
        return []
    found: dict[str, str] = {}
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    for model in (ObservationRow, Balance, MovementRow):
        stmt = select(model.sku).where(or_(model.sku == q, model.sku.like(like, escape="\\"))).distinct().limit(limit)
        for (sku,) in (await session.execute(stmt)).all():
            found.setdefault(sku, "sku")
    stmt = select(Reservation.sku, Reservation.order_ref).where(Reservation.order_ref == q).limit(limit)
    for sku, ref in (await session.execute(stmt)).all():
        found.setdefault(sku, f"order {ref}")
    exact = [(s, w) for s, w in found.items() if s == q]
    rest = sorted((s, w) for s, w in found.items() if s != q)
    return (exact + rest)[:limit]


async def recent_movements(session: AsyncSession, sku: str, *, limit: int = 20) -> list[MovementRow]:
    stmt = select(MovementRow).where(MovementRow.sku == sku).order_by(MovementRow.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def last_movement_per_account(session: AsyncSession, sku: str, accounts: list[str]) -> dict[str, int]:
    """The newest movement touching each account: the lineage entry point of a balance."""
    out: dict[str, int] = {}
    for account in accounts:
        touches = or_(MovementRow.from_account == account, MovementRow.to_account == account)
        mid = await session.scalar(select(func.max(MovementRow.id)).where(MovementRow.sku == sku, touches))
        if mid is not None:
            out[account] = int(mid)
    return out


async def reservations_of(session: AsyncSession, sku: str, *, limit: int = 20) -> list[Reservation]:
    stmt = select(Reservation).where(Reservation.sku == sku).order_by(Reservation.created_at.desc())
    stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def decisions(session: AsyncSession, *, pending: bool, limit: int = 50) -> list[DecisionRow]:
    stmt = select(DecisionRow)
    if pending:
        stmt = stmt.where(DecisionRow.status == "pending").order_by(DecisionRow.id)
    else:
        stmt = stmt.where(DecisionRow.status.in_(("approved", "rejected"))).order_by(DecisionRow.resolved_at.desc())
    return list((await session.execute(stmt.limit(limit))).scalars())


async def table_names(session: AsyncSession) -> set[str]:
    """Tables that exist in this database now (the sync / voucher pages show sections as tables land)."""
    conn = await session.connection()
    return set(await conn.run_sync(lambda sync_conn: inspect(sync_conn).get_table_names()))


async def table_rows(session: AsyncSession, name: str, *, limit: int = 50, where: dict[str, Any] | None = None
                     ) -> tuple[list[str], list[dict[str, Any]]]:  # fmt: skip
    """Newest rows of a table this module does not know the model of (reflected), as plain dicts."""
    conn = await session.connection()
    table: Table = await conn.run_sync(lambda c: Table(name, __import__("sqlalchemy").MetaData(), autoload_with=c))
    stmt = select(table)
    for col, value in (where or {}).items():
        if col in table.c:
            stmt = stmt.where(table.c[col] == value)
    order = table.c.get("id")
    if order is not None:
        stmt = stmt.order_by(order.desc())
    rows = (await session.execute(stmt.limit(limit))).mappings().all()
    hidden = {c.name for c in table.c if _secret_column(c.name)}
    columns = [c.name for c in table.c if c.name not in hidden]
    return columns, [{k: v for k, v in r.items() if k not in hidden} for r in rows]


def _secret_column(name: str) -> bool:
    n = name.lower()
    return any(w in n for w in ("secret", "password", "token_hash", "credential", "private"))


async def push_stats(session: AsyncSession, *, limit: int = 2000) -> dict[str, Any]:
    """Push latency (change committed → platform acknowledged) over the latest pushes, by status, and drift."""
    from hub.storage.models_sync import ListingState, Push

    rows = (await session.execute(select(Push.latency_ms, Push.status).order_by(Push.id.desc()).limit(limit))).all()
    latencies = sorted(r[0] for r in rows if r[0] is not None and r[1] == "ok")
    by_status: dict[str, int] = {}
    for _, status in rows:
        by_status[status] = by_status.get(status, 0) + 1
    drift = int(await session.scalar(select(func.count()).select_from(ListingState).where(
        ListingState.drift.is_not(None), ListingState.drift != 0)) or 0)  # fmt: skip

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None

    return {"p50": pct(0.50), "p99": pct(0.99), "count": len(latencies), "by_status": by_status, "drift": drift}


async def pushes(session: AsyncSession, *, status: str | None = None, limit: int = 50) -> list[Any]:
    from hub.storage.models_sync import Push

    stmt = select(Push)
    if status:
        stmt = stmt.where(Push.status == status)
    return list((await session.execute(stmt.order_by(Push.id.desc()).limit(limit))).scalars())
