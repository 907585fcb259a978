"""The sync engine: a ledger change enqueues one coalescing push job per (channel, listing) in the same
transaction; the job reads the *latest* target when it runs, so a burst of changes costs one or two pushes.

Race safety (the in-flight order): ``listing_state.expected`` is what the platform holds once all of its
own orders are imported. Pushes send ``target - expected`` as a delta (Taobao type=2, Douyin
idempotent_id) or a compare-and-set against ``expected`` (Shopify compareQuantity); a stale compare means
orders are in flight, so the write is recomputed from the platform's figure. Only where a platform offers
nothing but an absolute set do increases wait a settle time, while decreases go at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from connectors.base import Capability, ConflictError, Connector, PermanentError, RateLimited, TransientError
from hub.channels import connector_of, enabled_sources, live_source
from hub.domain.ledger import Movement
from hub.jobs import outbox
from hub.jobs.outbox import NewJob
from hub.jobs.executor import RetryLater
from hub.jobs.registry import BatchItem, JobContext, job
from hub.metrics import PUSH_ERRORS
from hub.services import ledger
from hub.storage import locks
from hub.storage.models import Balance, Source, utcnow
from hub.storage.models_sync import ListingState, Push
from hub.storage.sql import core
from hub.sync import records
from hub.sync.publish import PublishRule, Target, sellable
from hub.sync.records import Outcome, Plan, Written

log = logging.getLogger("zhongshu.sync")
PUSH_JOB = "sync.push"
ZERO_LANE, NORMAL_LANE = 0, 100
_local_locks: dict[tuple[int, str, str], asyncio.Lock] = {}  # per event loop (locks belong to one loop)


async def listing_sources(session: AsyncSession, skus: Sequence[str]) -> dict[str, list[str]]:
    """sku → names of the enabled sources that list it (skus no source lists are left out). Source rows
    come from the per-process cache, so thousands of listings are not shipped and decoded per change."""
    sources = await enabled_sources(session)
    out: dict[str, list[str]] = {}
    for sku in skus:
        names = [s.name for s in sources if sku in (s.listings or {})]
        if names:
            out[sku] = names
    return out


async def free_by_location(session: AsyncSession, sku: str) -> dict[str, int]:
    return (await free_by_locations(session, [sku])).get(sku, {})


_B = Balance.__table__
_FREE = select(_B.c.sku, _B.c.account, _B.c.qty).where(_B.c.sku.in_(bindparam("skus", expanding=True)),
                                                       _B.c.account.like("%/free"))  # fmt: skip


async def free_by_locations(session: AsyncSession, skus: Sequence[str]) -> dict[str, dict[str, int]]:
    """Free stock per location of each sku, in one query."""
    out: dict[str, dict[str, int]] = {}
    if not skus:
        return out
    conn = await core(session)
    for sku, account, qty in (await conn.execute(_FREE, {"skus": list(skus)})).all():
        out.setdefault(sku, {})[account.rsplit("/", 1)[0]] = qty
    return out


async def on_ledger_change(session: AsyncSession, applied: list[Movement], ids: dict[str, int]) -> None:
    """Enqueue a push for every listing of every sku the batch touched; zero stock goes first."""
    causes = {m.sku: f"movement:{ids[m.key]}" for m in applied}  # the sku's last movement of the batch
    await enqueue_pushes(session, causes)


async def enqueue_pushes(session: AsyncSession, causes: dict[str, str], *, force: bool = False) -> None:
    """One coalescing push job per (listing source, sku) of ``causes`` (sku → what changed it), in the
    caller's transaction; a sku with no free stock left anywhere goes in the zero lane."""
    listed = await listing_sources(session, sorted(causes))
    if not listed:
        return
    free = await free_by_locations(session, list(listed))
    changed_at = utcnow().isoformat()
    jobs = [NewJob(PUSH_JOB, f"push:{name}:{sku}", {"source": name, "sku": sku, "cause": causes[sku],
                                                    "changed_at": changed_at, "force": force},
                   priority=ZERO_LANE if sum(free.get(sku, {}).values()) <= 0 else NORMAL_LANE)
            for sku, names in listed.items() for name in names]  # fmt: skip
    await outbox.enqueue_many(session, jobs)


ledger.LISTENERS.append(on_ledger_change)

_L = ListingState.__table__
_NOTE = (update(_L).where(_L.c.source == bindparam("s"), _L.c.sku == bindparam("k"), _L.c.expected.is_not(None))
         .values(expected=_L.c.expected + bindparam("d")))  # fmt: skip


async def note_channel_orders(session: AsyncSession, changes: dict[tuple[str, str], int]) -> None:
    """The channels themselves took (delta < 0) or gave back (delta > 0) units of (source, sku): they
    already show the change."""
    rows = [{"s": source, "k": sku, "d": delta} for (source, sku), delta in sorted(changes.items()) if delta]
    if rows:
        await (await core(session)).execute(_NOTE, rows)


async def note_channel_order(session: AsyncSession, source: str, sku: str, delta: int) -> None:
    await note_channel_orders(session, {(source, sku): delta})


@dataclass
class _Want:
    """What the claimed jobs of one listing ask for: the earliest change (latency starts there) and its cause."""

    cause: str = ""
    changed_at: str | None = None
    force: bool = False
    job_ids: list[int] = field(default_factory=list)


def _wants(items: list[BatchItem]) -> dict[str, _Want]:
    wants: dict[str, _Want] = {}
    for item in items:
        want = wants.setdefault(str(item.args["sku"]), _Want())
        changed = item.args.get("changed_at")
        if not want.job_ids or (changed and (want.changed_at is None or changed < want.changed_at)):
            want.cause, want.changed_at = str(item.args.get("cause") or ""), changed
        want.force = want.force or bool(item.args.get("force"))
        want.job_ids.append(item.job_id)
    return wants


@job(PUSH_JOB, max_attempts=20, group=lambda args: str(args["source"]), finishes_own=True)
async def push(ctx: JobContext, items: list[BatchItem]) -> dict[int, BaseException]:
    """Push the claimed listings of one shop together: one lock, one plan, one commit before and after
    the platform calls (made concurrently), whatever the number of listings.

    Serialised per shop (an advisory lock on PostgreSQL, an asyncio lock in embedded mode). On PostgreSQL
    every write is *announced* first: a ``pushes`` row in state ``sending`` is committed before the platform
    is called, under an idempotency key of its own (``push<id>``). A worker killed after the platform
    applied a delta but before the hub recorded it leaves that row behind; the next push to the shop
    replays it with the same key (the platform answers "already done") and books it, instead of sending
    the delta a second time. One connection carries the lock and every step; the jobs are marked done in
    the transaction that records their pushes."""
    source = str(items[0].args["source"])
    wants = _wants(items)
    if ctx.settings.is_sqlite:  # SQLite: no transaction held open across the HTTP calls
        async with shop_lock(ctx, source):
            async with ctx.sessionmaker() as session:
                plans, failures = await _plans(ctx, session, source, wants)
            outcomes = await _send_all(plans, {sku: f"{source}:{sku}:{wants[sku].cause}" for sku in plans})
            failures |= _to_retry(outcomes)
            async with ctx.sessionmaker() as session, session.begin():
                await records.record(session, [Written(plan, outcomes[sku], wants[sku].cause, wants[sku].changed_at)
                                               for sku, plan in plans.items()])  # fmt: skip
                await outbox.finish(session, _done(wants, failures))
    else:
        failures = await _push_locked(ctx, source, wants)
    return {job_id: exc for sku, exc in failures.items() for job_id in wants[sku].job_ids}


def _to_retry(outcomes: dict[str, Outcome]) -> dict[str, BaseException]:
    return {sku: RetryLater(o.retry_after or 0.5, f"transient: {o.error}") for sku, o in outcomes.items()
            if o.status == "failed"}  # fmt: skip


def _done(wants: dict[str, _Want], failures: dict[str, BaseException]) -> list[int]:
    return [job_id for sku, want in wants.items() if sku not in failures for job_id in want.job_ids]


@asynccontextmanager
async def shop_lock(ctx: JobContext, source: str) -> AsyncIterator[AsyncConnection | None]:
    """Hold the shop's push lock: no push to ``source`` is in flight while it is held (pushes, replays and
    reconciliation take it). On PostgreSQL an advisory lock held by the connection it yields (pushes do
    their work on it); in embedded mode an asyncio lock, and it yields None."""
    if ctx.settings.is_sqlite:
        async with _local_locks.setdefault((id(asyncio.get_running_loop()), source, ""), asyncio.Lock()):
            yield None
        return
    engine = ctx.sessionmaker.kw["bind"]
    key = locks.lock_id(f"push:{source}")
    async with engine.connect() as conn:
        # outside any transaction, on the driver's connection: one round trip each, no BEGIN/COMMIT around
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.execute("SELECT pg_advisory_lock($1)", key)
        try:
            yield conn
        finally:
            if not conn.closed and not conn.invalidated:
                await conn.rollback()
                await driver.execute("SELECT pg_advisory_unlock($1)", key)


async def _push_locked(ctx: JobContext, source: str, wants: dict[str, _Want]) -> dict[str, BaseException]:
    async with shop_lock(ctx, source) as conn, ctx.sessionmaker(bind=conn) as session:
        await _replay_unfinished(ctx, session, source)
        plans, failures = await _plans(ctx, session, source, wants)
        ids = await records.announce(session, [(plan, wants[sku].cause, wants[sku].changed_at)
                                               for sku, plan in plans.items()])  # fmt: skip
        intents = dict(zip(plans, ids, strict=True))
        if plans:
            await session.commit()
        outcomes = await _send_all(plans, {sku: f"{source}:{sku}:push{push_id}" for sku, push_id in intents.items()})
        failures |= _to_retry(outcomes)
        await records.record(session, [Written(plan, outcomes[sku], wants[sku].cause, wants[sku].changed_at,
                                               intents[sku]) for sku, plan in plans.items()])  # fmt: skip
        await outbox.finish(session, _done(wants, failures))
        await session.commit()
    return failures


async def _send_all(plans: dict[str, Plan], keys: dict[str, str], *, concurrency: int = 16) -> dict[str, Outcome]:
    gate = asyncio.Semaphore(concurrency)

    async def one(sku: str) -> tuple[str, Outcome]:
        async with gate:
            return sku, await _send(plans[sku], keys[sku])

    return dict(await asyncio.gather(*(one(sku) for sku in plans)))


async def _replay_unfinished(ctx: JobContext, session: AsyncSession, name: str) -> None:
    """Book writes an earlier (killed) push announced but never recorded: same request, same key."""
    rows = (await session.execute(select(Push).where(Push.status == "sending", Push.source == name)
                                  .order_by(Push.id))).scalars().all()  # fmt: skip
    for row in rows:
        sku = row.sku
        src = await session.get(Source, name)
        if src is None or not src.enabled:
            row.status, row.response = "dead", "source disabled before the write was confirmed"
            continue
        if row.mode == "absolute" or row.expected_before is None:
            # an absolute set cannot be replayed safely (it would erase sales since): forget what the
            # platform holds, so the next push sets it outright
            await session.execute(update(ListingState).where(ListingState.source == name, ListingState.sku == sku)
                                  .values(expected=None))  # fmt: skip
            row.status, row.finished_at, row.response = "unconfirmed", utcnow(), "worker lost before the answer"
            continue
        connector = connector_of(ctx.settings, src)
        plan = Plan(name, sku, connector, Target(row.target, []), row.expected_before, row.mode, row.sent)
        row.attempts += 1
        outcome = await _send(plan, f"{name}:{sku}:push{row.id}", started=row.started_at)
        await records.record(session, [Written(plan, outcome, row.caused_by,
                                               row.changed_at.isoformat() if row.changed_at else None, row.id)])  # fmt: skip
        await session.commit()
        if outcome.status == "failed":
            raise RetryLater(outcome.retry_after or 0.5, f"transient: {outcome.error}")


async def _plans(ctx: JobContext, session: AsyncSession, name: str,
                 wants: dict[str, _Want]) -> tuple[dict[str, Plan], dict[str, BaseException]]:  # fmt: skip
    """What to send per listing, from the latest state (read in three queries for the whole batch); a
    listing whose channel already shows its target is left out, an increase still settling fails with
    :class:`RetryLater`."""
    plans: dict[str, Plan] = {}
    waiting: dict[str, BaseException] = {}
    src, connector = await live_source(session, ctx.settings, name)
    if src is None or connector is None or not src.enabled:
        return plans, waiting
    skus = sorted(s for s in wants if s in (src.listings or {}))
    free = await free_by_locations(session, skus)
    states = {row.sku: row for row in (await session.execute(
        select(ListingState).where(ListingState.source == name, ListingState.sku.in_(skus))
        .execution_options(populate_existing=True))).scalars()}  # fmt: skip
    now = datetime.now(timezone.utc)
    for sku in skus:
        want = wants[sku]
        rule = PublishRule.from_config((src.settings or {}).get("publish", {}), src.listings[sku])
        target = sellable(rule, free.get(sku, {}), now=now)
        expected = states[sku].expected if sku in states else None
        if expected == target.value and not want.force:
            continue
        mode, sent = _mode(connector, expected, target.value)
        if mode == "absolute" and expected is not None and target.value > expected and want.changed_at:
            waited = (utcnow() - datetime.fromisoformat(want.changed_at)).total_seconds()
            if waited < rule.settle_seconds:  # an increase on an absolute-only platform waits for in-flight orders
                waiting[sku] = RetryLater(rule.settle_seconds - waited, "increase waits its settle time")
                continue
        plans[sku] = Plan(name, sku, connector, target, expected, mode, sent)
    return plans, waiting


async def _send(plan: Plan, key: str, *, started: datetime | None = None) -> Outcome:
    started = started or utcnow()
    try:
        result, mode, sent = await _write(plan.connector, plan.sku, plan.mode, plan.sent, plan.expected,
                                          plan.target.value, key=key)  # fmt: skip
    except (TransientError, RateLimited) as exc:
        PUSH_ERRORS.labels(source=plan.name, kind="transient").inc()
        return Outcome("failed", started, mode=plan.mode, sent=plan.sent, error=str(exc),
                       retry_after=getattr(exc, "retry_after", None) or 0.5)  # fmt: skip
    except PermanentError as exc:
        PUSH_ERRORS.labels(source=plan.name, kind="permanent").inc()
        return Outcome("dead", started, mode=plan.mode, sent=plan.sent, error=str(exc))
    return Outcome("ok", started, result=result, mode=mode, sent=sent)


def _mode(connector: Connector, expected: int | None, target: int) -> tuple[str, int]:
    if expected is None:
        return "absolute", target
    if connector.supports(Capability.WRITE_STOCK_DELTA):
        return "delta", target - expected
    if connector.supports(Capability.WRITE_STOCK_CAS):
        return "cas", target
    return "absolute", target


async def _write(connector: Connector, sku: str, mode: str, sent: int, expected: int | None, target: int, *,
                 key: str) -> tuple[Any, str, int]:  # fmt: skip
    if mode == "delta":
        return await connector.write_stock(sku, None, delta=sent, idempotency_key=key), mode, sent
    if mode == "cas":
        try:
            return await connector.write_stock(sku, target, compare_to=expected, idempotency_key=key), mode, target
        except ConflictError:
            # orders the platform took that we have not imported yet: keep them deducted
            platform = (await connector.read_stock([sku]))[sku]
            in_flight = (expected or 0) - platform
            value = max(0, target - in_flight)
            result = await connector.write_stock(sku, value, compare_to=platform, idempotency_key=key + ":re")
            return result, "cas", value
    return await connector.write_stock(sku, target, idempotency_key=key), "absolute", target


async def retry_dead(session: AsyncSession, push_id: int) -> None:
    """Operator: re-push a dead-lettered listing (the job reads the latest target)."""
    row = await session.get(Push, push_id)
    if row is None:
        from hub.domain.errors import NotFound

        raise NotFound(f"no push {push_id}")
    await outbox.enqueue(session, PUSH_JOB, f"push:{row.source}:{row.sku}",
                         {"source": row.source, "sku": row.sku, "cause": f"push:{push_id}", "force": True},
                         priority=ZERO_LANE)  # fmt: skip
    row.status = "retried"
