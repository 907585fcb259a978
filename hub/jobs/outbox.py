"""The durable side of every job: rows in ``jobs``, written in the same transaction as the change.

A crash between a change and its job can therefore neither lose nor invent work, and if Redis loses its
queue, :func:`due_job_ids` re-derives what to run from this table (``zhongshu jobs recover``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, event, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from hub.jobs.registry import BatchItem, batched_names
from hub.storage.models import Job, utcnow
from hub.storage.sql import core, dialect_of, insert_for, least, per_dialect


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to enqueue: run ``name`` with ``args``; a pending job with the same ``key`` absorbs it."""

    name: str
    key: str
    args: dict[str, Any] = field(default_factory=dict)
    priority: int = 100
    delay: float = 0.0


async def enqueue(
    session: AsyncSession,
    name: str,
    key: str,
    args: dict[str, Any] | None = None,
    *,
    priority: int = 100,
    delay: float = 0.0,
) -> int:
    """Add a pending job, or coalesce into the pending one with the same ``key``. Returns the row id.

    When coalescing, the earlier ``run_at`` and the lower (more urgent) ``priority`` win."""
    [job_id] = await enqueue_many(session, [NewJob(name, key, args or {}, priority, delay)])
    return job_id


async def enqueue_many(session: AsyncSession, jobs: Sequence[NewJob]) -> list[int]:
    """:func:`enqueue` for many jobs in one statement; the row id of each (a coalesced one's twin).

    One upsert on the partial unique index of pending keys: PostgreSQL decides insert-or-coalesce
    atomically, and re-decides if a worker claims the pending twin meanwhile (it no longer conflicts)."""
    if not jobs:
        return []
    now = utcnow()
    merged: dict[str, dict[str, Any]] = {}
    for job in jobs:
        run_at = now + timedelta(seconds=job.delay)
        row = merged.get(job.key)
        if row is None:
            merged[job.key] = {"name": job.name, "job_key": job.key, "args": job.args, "state": "pending",
                               "priority": job.priority, "run_at": run_at, "attempts": 0, "created_at": now}  # fmt: skip
        else:
            row["priority"], row["run_at"] = min(row["priority"], job.priority), min(row["run_at"], run_at)
    conn = await core(session)
    result = await conn.execute(_upsert_jobs(dialect_of(session)), list(merged.values()))
    ids = {key: (int(job_id), name) for job_id, key, name in result.all()}
    for job_id, name in ids.values():
        _deliver_after_commit(session, job_id, name)
    return [ids[job.key][0] for job in jobs]


@per_dialect
def _upsert_jobs(dialect: str) -> Any:
    table = Job.__table__
    stmt = insert_for(dialect, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["job_key"], index_where=text("state = 'pending'"),
        set_={"run_at": least(dialect, table.c.run_at, stmt.excluded.run_at),
              "priority": least(dialect, table.c.priority, stmt.excluded.priority)},
    )  # fmt: skip
    return stmt.returning(table.c.id, table.c.job_key, table.c.name)


KICKS = "zhongshu_kicks"
QUEUE = "zhongshu_queue"
_tasks: set[asyncio.Task[None]] = set()


def _deliver_after_commit(session: AsyncSession, job_id: int, name: str) -> int:
    session.info.setdefault(KICKS, []).append((job_id, name))
    return job_id


@event.listens_for(Session, "after_commit")
def _kick_after_commit(session: Session) -> None:
    """Jobs enqueued in a transaction are delivered the moment it commits (never before: a rolled-back
    change must not run its jobs). Sessions made by :func:`hub.bootstrap.build_hub` carry their queue.
    Batch jobs are not delivered one by one: the pumps are woken, and claim every due row of the name."""
    kicks, queue = session.info.pop(KICKS, None), session.info.get(QUEUE)
    if not kicks or queue is None:
        return
    batched = batched_names()
    ids = list(dict.fromkeys(job_id for job_id, name in kicks if name not in batched))
    woken = sorted({name for _, name in kicks if name in batched})
    loop = asyncio.get_running_loop()
    for coro in ([queue.kick(ids)] if ids else []) + ([queue.wake(woken)] if woken else []):
        task = loop.create_task(coro)
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(KICKS, None)


async def claim(session: AsyncSession, job_id: int) -> Job | None:
    """Take a due pending job for this worker; ``None`` if another worker has it or it is not due."""
    now = utcnow()
    stmt = (
        update(Job)
        .where(Job.id == job_id, Job.state == "pending", Job.run_at <= now)
        .values(state="running", claimed_at=now, attempts=Job.attempts + 1)
        .returning(Job.id)
    )
    if (await session.execute(stmt)).first() is None:
        return None
    return await session.get(Job, job_id, populate_existing=True)


async def claim_batch(session: AsyncSession, names: Sequence[str], limit: int) -> list[tuple[str, BatchItem]]:
    """Take up to ``limit`` due pending rows of the jobs ``names``, most urgent first, in one statement.
    Rows another worker is claiming, or that an uncommitted enqueue is coalescing into, are skipped (taken
    next round). Returns (job name, row) in id order."""
    conn = await core(session)
    rows = (await conn.execute(_CLAIM, {"names": list(names), "now": utcnow(), "limit": limit})).all()
    return sorted(((name, BatchItem(int(i), dict(a or {}), int(n))) for i, name, a, n in rows), key=lambda r: r[1].job_id)


_J = Job.__table__
_DUE = (select(_J.c.id).where(_J.c.name.in_(bindparam("names", expanding=True)), _J.c.state == "pending",
                              _J.c.run_at <= bindparam("now"))
        .order_by(_J.c.priority, _J.c.id).limit(bindparam("limit")).with_for_update(skip_locked=True))  # fmt: skip
_CLAIM = (update(_J).where(_J.c.id.in_(_DUE.scalar_subquery()), _J.c.state == "pending")
          .values(state="running", claimed_at=bindparam("now"), attempts=_J.c.attempts + 1)
          .returning(_J.c.id, _J.c.name, _J.c.args, _J.c.attempts))  # fmt: skip


_FINISH = update(_J).where(_J.c.id.in_(bindparam("ids", expanding=True))).values(state="done", finished_at=bindparam("now"))


async def finish(session: AsyncSession, job_ids: Sequence[int]) -> None:
    if job_ids:
        await (await core(session)).execute(_FINISH, {"ids": list(job_ids), "now": utcnow()})


async def fail(session: AsyncSession, job: Job, error: str, *, max_attempts: int, retry_after: float | None = None) -> str:
    """Record a failure: back to pending with backoff, or ``dead`` once attempts are used up."""
    if job.attempts >= max_attempts:
        await session.execute(
            update(Job).where(Job.id == job.id).values(state="dead", last_error=error[:4000], finished_at=utcnow())
        )
        return "dead"
    backoff = retry_after if retry_after is not None else min(300.0, 0.2 * 2 ** (job.attempts - 1))
    backoff *= random.uniform(0.8, 1.2)
    values = {"state": "pending", "last_error": error[:4000], "run_at": utcnow() + timedelta(seconds=backoff)}
    try:
        async with session.begin_nested():
            await session.execute(update(Job).where(Job.id == job.id).values(**values))
    except IntegrityError:
        # A newer pending job for the same key exists and will read the latest state: this one is superseded.
        await session.execute(
            update(Job).where(Job.id == job.id).values(state="done", last_error=error[:4000], finished_at=utcnow())
        )
        return "superseded"
    return "retry"


async def due_job_ids(session: AsyncSession, *, limit: int = 500, stuck_after: float | None = None,
                      exclude: Collection[str] = ()) -> list[int]:  # fmt: skip
    """Pending jobs that are due, in priority order; with ``stuck_after``, first re-arm lost running jobs.
    ``exclude``: job names a pump of this process claims by itself."""
    if stuck_after is not None:
        await requeue_stuck(session, stuck_after)
    now = utcnow()
    stmt = select(Job.id).where(Job.state == "pending", Job.run_at <= now)
    if exclude:
        stmt = stmt.where(Job.name.not_in(list(exclude)))
    stmt = stmt.order_by(Job.priority, Job.id).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def overdue_job_ids(session: AsyncSession, overdue_after: float, *, limit: int = 500,
                          exclude: Collection[str] = ()) -> list[int]:  # fmt: skip
    """Pending jobs due for longer than ``overdue_after`` s: their delivery is lost or stuck (a worker
    that died holding the queue entry), so the queue should deliver them afresh."""
    cutoff = utcnow() - timedelta(seconds=overdue_after)
    stmt = select(Job.id).where(Job.state == "pending", Job.run_at <= cutoff)
    if exclude:
        stmt = stmt.where(Job.name.not_in(list(exclude)))
    stmt = stmt.order_by(Job.priority, Job.id).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def requeue_stuck(session: AsyncSession, stuck_after: float) -> int:
    """Running jobs whose worker vanished go back to pending (or are superseded by a pending twin)."""
    return len(await requeue_stuck_ids(session, stuck_after))


async def requeue_stuck_ids(session: AsyncSession, stuck_after: float) -> list[int]:
    """:func:`requeue_stuck`, returning the ids put back to pending (to deliver them afresh)."""
    rearmed: list[int] = []
    cutoff = utcnow() - timedelta(seconds=stuck_after)
    stuck = (
        await session.execute(select(Job).where(Job.state == "running", Job.claimed_at < cutoff))
    ).scalars().all()
    for job in stuck:
        twin = await session.scalar(select(Job.id).where(Job.job_key == job.job_key, Job.state == "pending"))
        values: dict[str, Any] = (
            {"state": "done", "last_error": "superseded after worker loss", "finished_at": utcnow()}
            if twin
            else {"state": "pending", "run_at": utcnow(), "last_error": "worker lost; re-run"}
        )
        done = await session.execute(update(Job).where(Job.id == job.id, Job.state == "running").values(**values))
        if not twin and done.rowcount:
            rearmed.append(job.id)
    return rearmed


async def counts(session: AsyncSession) -> dict[str, int]:
    from sqlalchemy import func

    rows = (await session.execute(select(Job.state, func.count()).group_by(Job.state))).all()
    return {state: int(n) for state, n in rows}


__all__: Sequence[str] = ["NewJob", "enqueue", "enqueue_many", "claim", "claim_batch", "finish", "fail", "due_job_ids", "requeue_stuck", "requeue_stuck_ids", "overdue_job_ids", "counts"]
