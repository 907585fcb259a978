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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from connectors.base import Capability, ConflictError, Connector, PermanentError, RateLimited, TransientError
from hub import lineage
from hub.channels import connector_of, live_source
from hub.domain.ledger import Movement
from hub.jobs import outbox
from hub.jobs.executor import RetryLater
from hub.jobs.registry import BatchItem, JobContext, job
from hub.metrics import PUSH_ERRORS, PUSH_LATENCY
from hub.services import ledger
from hub.storage import locks
from hub.storage.models import Balance, Source, utcnow
from hub.storage.models_sync import ListingState, Push
from hub.sync.publish import PublishRule, Target, sellable

log = logging.getLogger("zhongshu.sync")
PUSH_JOB = "sync.push"
ZERO_LANE, NORMAL_LANE = 0, 100
_local_locks: dict[tuple[int, str, str], asyncio.Lock] = {}  # per event loop (locks belong to one loop)


async def listings_of(session: AsyncSession, sku: str) -> list[Source]:
    sources = (await session.execute(select(Source).where(Source.enabled.is_(True)))).scalars().all()
    return [s for s in sources if sku in (s.listings or {})]


async def listing_sources(session: AsyncSession, sku: str) -> list[str]:
    """Names of the enabled sources that list ``sku``. On PostgreSQL the database tests the key, so the
    listings (thousands of entries per shop) are not shipped and decoded once per ledger change."""
    if _is_postgres(session):
        has_sku = text("sources.listings -> :sku IS NOT NULL").bindparams(sku=sku)
        return list((await session.execute(select(Source.name).where(Source.enabled.is_(True), has_sku))).scalars().all())
    return [s.name for s in await listings_of(session, sku)]


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def free_by_location(session: AsyncSession, sku: str) -> dict[str, int]:
    return (await free_by_locations(session, [sku])).get(sku, {})


async def free_by_locations(session: AsyncSession, skus: list[str]) -> dict[str, dict[str, int]]:
    """Free stock per location of each sku, in one query."""
    rows = (await session.execute(select(Balance.sku, Balance.account, Balance.qty).where(
        Balance.sku.in_(skus), Balance.account.like("%/free")))).all()  # fmt: skip
    out: dict[str, dict[str, int]] = {}
    for sku, account, qty in rows:
        out.setdefault(sku, {})[account.rsplit("/", 1)[0]] = qty
    return out


async def on_ledger_change(session: AsyncSession, applied: list[Movement], ids: dict[str, int]) -> None:
    """Enqueue a push for every listing of every sku the batch touched; zero stock goes first."""
    by_sku: dict[str, int] = {}
    for m in applied:
        by_sku[m.sku] = ids[m.key]
    for sku, movement_id in sorted(by_sku.items()):
        await enqueue_pushes(session, sku, cause=f"movement:{movement_id}")


async def enqueue_pushes(session: AsyncSession, sku: str, *, cause: str, force: bool = False) -> None:
    names = await listing_sources(session, sku)
    if not names:
        return
    lane = ZERO_LANE if sum((await free_by_location(session, sku)).values()) <= 0 else NORMAL_LANE
    changed_at = utcnow().isoformat()
    for name in names:
        await outbox.enqueue(session, PUSH_JOB, f"push:{name}:{sku}",
                             {"source": name, "sku": sku, "cause": cause, "changed_at": changed_at,
                              "force": force}, priority=lane)  # fmt: skip


ledger.LISTENERS.append(on_ledger_change)


async def note_channel_order(session: AsyncSession, source: str, sku: str, delta: int) -> None:
    """The channel itself took (delta < 0) or gave back (delta > 0) units: it already shows the change."""
    await session.execute(update(ListingState).where(ListingState.source == source, ListingState.sku == sku,
                                                     ListingState.expected.is_not(None))
                          .values(expected=ListingState.expected + delta))  # fmt: skip


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


@job(PUSH_JOB, max_attempts=20, group=lambda args: str(args["source"]))
async def push(ctx: JobContext, items: list[BatchItem]) -> dict[int, BaseException]:
    """Push the claimed listings of one shop together: one lock, one plan, one commit before and after
    the platform calls (made concurrently), whatever the number of listings.

    Serialised per shop (an advisory lock on PostgreSQL, an asyncio lock in embedded mode). On PostgreSQL
    every write is *announced* first: a ``pushes`` row in state ``sending`` is committed before the platform
    is called, under an idempotency key of its own (``push<id>``). A worker killed after the platform
    applied a delta but before the hub recorded it leaves that row behind; the next push to the shop
    replays it with the same key (the platform answers "already done") and books it, instead of sending
    the delta a second time. One connection carries the lock and every step."""
    source = str(items[0].args["source"])
    wants = _wants(items)
    if ctx.settings.is_sqlite:  # SQLite: no transaction held open across the HTTP calls
        async with shop_lock(ctx, source):
            async with ctx.sessionmaker() as session:
                plans, failures = await _plans(ctx, session, source, wants)
            outcomes = await _send_all(plans, {sku: f"{source}:{sku}:{wants[sku].cause}" for sku in plans})
            async with ctx.sessionmaker() as session, session.begin():
                for sku, plan in plans.items():
                    await _record(session, plan, outcomes[sku], wants[sku].cause, wants[sku].changed_at)
    else:
        plans, failures, outcomes = await _push_locked(ctx, source, wants)
    for sku, outcome in outcomes.items():
        if outcome.status == "failed":
            failures[sku] = RetryLater(outcome.retry_after or 0.5, f"transient: {outcome.error}")
    return {job_id: exc for sku, exc in failures.items() for job_id in wants[sku].job_ids}


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
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        await conn.commit()
        try:
            yield conn
        finally:
            if not conn.closed and not conn.invalidated:
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()


async def _push_locked(ctx: JobContext, source: str, wants: dict[str, _Want]) -> tuple[dict[str, _Plan], dict[str, BaseException], dict[str, _Outcome]]:  # fmt: skip
    async with shop_lock(ctx, source) as conn, ctx.sessionmaker(bind=conn) as session:
        await _replay_unfinished(ctx, session, source)
        plans, failures = await _plans(ctx, session, source, wants)
        intents = {sku: await _announce(session, plan, wants[sku].cause, wants[sku].changed_at)
                   for sku, plan in plans.items()}  # fmt: skip
        await session.commit()
        outcomes = await _send_all(plans, {sku: f"{source}:{sku}:push{row.id}" for sku, row in intents.items()})
        for sku, plan in plans.items():
            await _record(session, plan, outcomes[sku], wants[sku].cause, wants[sku].changed_at, row=intents[sku])
        await session.commit()
    return plans, failures, outcomes


async def _send_all(plans: dict[str, _Plan], keys: dict[str, str], *, concurrency: int = 16) -> dict[str, _Outcome]:
    gate = asyncio.Semaphore(concurrency)

    async def one(sku: str) -> tuple[str, _Outcome]:
        async with gate:
            return sku, await _send(plans[sku], keys[sku])

    return dict(await asyncio.gather(*(one(sku) for sku in plans)))


async def _announce(session: AsyncSession, plan: _Plan, cause: str, changed_at: str | None) -> Push:
    started = utcnow()
    row = Push(source=plan.name, sku=plan.sku, target=plan.target.value, mode=plan.mode, sent=plan.sent,
               expected_before=plan.expected, status="sending", response="", explanation=plan.target.explain(),
               caused_by=cause, changed_at=datetime.fromisoformat(changed_at) if changed_at else started,
               started_at=started)  # fmt: skip
    session.add(row)
    await session.flush()
    return row


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
        target = Target(row.target, [])
        plan = _Plan(name, sku, connector, target, row.expected_before, row.mode, row.sent)
        row.attempts += 1
        outcome = await _send(plan, f"{name}:{sku}:push{row.id}", started=row.started_at)
        await _record(session, plan, outcome, row.caused_by, row.changed_at.isoformat() if row.changed_at else None,
                      row=row)  # fmt: skip
        await session.commit()
        _raise_for(outcome)


class _Plan:
    __slots__ = ("name", "sku", "connector", "target", "expected", "mode", "sent")

    def __init__(self, name: str, sku: str, connector: Connector, target: Target, expected: int | None,
                 mode: str, sent: int) -> None:  # fmt: skip
        self.name, self.sku, self.connector, self.target = name, sku, connector, target
        self.expected, self.mode, self.sent = expected, mode, sent


class _Outcome:
    __slots__ = ("status", "result", "mode", "sent", "error", "retry_after", "started")

    def __init__(self, status: str, started: datetime, *, result: Any = None, mode: str = "", sent: int = 0,
                 error: str = "", retry_after: float | None = None) -> None:  # fmt: skip
        self.status, self.started, self.result, self.mode, self.sent = status, started, result, mode, sent
        self.error, self.retry_after = error, retry_after


async def _plans(ctx: JobContext, session: AsyncSession, name: str,
                 wants: dict[str, _Want]) -> tuple[dict[str, _Plan], dict[str, BaseException]]:  # fmt: skip
    """What to send per listing, from the latest state (read in three queries for the whole batch); a
    listing whose channel already shows its target is left out, an increase still settling fails with
    :class:`RetryLater`."""
    plans: dict[str, _Plan] = {}
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
        plans[sku] = _Plan(name, sku, connector, target, expected, mode, sent)
    return plans, waiting


async def _send(plan: _Plan, key: str, *, started: datetime | None = None) -> _Outcome:
    started = started or utcnow()
    try:
        result, mode, sent = await _write(plan.connector, plan.sku, plan.mode, plan.sent, plan.expected,
                                          plan.target.value, key=key)  # fmt: skip
    except (TransientError, RateLimited) as exc:
        PUSH_ERRORS.labels(source=plan.name, kind="transient").inc()
        return _Outcome("failed", started, mode=plan.mode, sent=plan.sent, error=str(exc),
                        retry_after=getattr(exc, "retry_after", None) or 0.5)  # fmt: skip
    except PermanentError as exc:
        PUSH_ERRORS.labels(source=plan.name, kind="permanent").inc()
        return _Outcome("dead", started, mode=plan.mode, sent=plan.sent, error=str(exc))
    return _Outcome("ok", started, result=result, mode=mode, sent=sent)


def _raise_for(outcome: _Outcome) -> None:
    if outcome.status == "failed":
        raise RetryLater(outcome.retry_after or 0.5, f"transient: {outcome.error}")


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


async def _record(session: AsyncSession, plan: _Plan, outcome: _Outcome, cause: str, changed_at: str | None, *,
                  row: Push | None = None) -> None:  # fmt: skip
    name, sku, target, status = plan.name, plan.sku, plan.target, outcome.status
    finished = utcnow()
    since = datetime.fromisoformat(changed_at) if changed_at else outcome.started
    latency = (finished - since).total_seconds() * 1000
    platform_after = outcome.result.quantity if status == "ok" else None
    if status == "failed" and row is not None and outcome.mode != "absolute" and plan.expected is not None:
        # A timeout or 5xx does not say the platform did not apply it (a gateway may answer 503 after the
        # shop committed). A new delta planned from the old ``expected`` would then count it twice: the row
        # stays an unconfirmed write, replayed with the same key before anything else is sent to this shop.
        status = "sending"
    if row is None:
        row = Push(source=name, sku=sku, target=target.value, expected_before=plan.expected,
                   explanation=target.explain(), caused_by=cause, changed_at=since, started_at=outcome.started)  # fmt: skip
        session.add(row)
    row.mode, row.sent, row.platform_after, row.status = outcome.mode, outcome.sent, platform_after, status
    response = f"unconfirmed, will be replayed with its key: {outcome.error}" if status == "sending" else outcome.error
    row.response, row.finished_at, row.latency_ms = response[:2000], finished, latency
    await session.flush()
    await lineage.record(session, f"push:{row.id}", kind="push", parents=[cause] if cause else [],
                         label=f"{status}: {name} {sku} → {target.value} ({outcome.mode} {outcome.sent})",
                         data={"explanation": target.explain()})  # fmt: skip
    if status == "ok":
        if plan.expected is not None and outcome.mode != "absolute":
            # A delta or compare-and-set moved the platform by (target - expected_before). Orders imported
            # meanwhile have already moved ``expected`` (note_channel_order): add to it, never overwrite it,
            # or a sale imported during the push is deducted twice.
            await session.execute(update(ListingState).where(ListingState.source == name, ListingState.sku == sku)
                                  .values(expected=ListingState.expected + (target.value - plan.expected),
                                          last_target=target.value, last_push_id=row.id, pushed_at=finished))  # fmt: skip
            PUSH_LATENCY.labels(source=name).observe(latency / 1000)
            return
        state = await session.get(ListingState, (name, sku), populate_existing=True)
        if state is None:
            session.add(ListingState(source=name, sku=sku, expected=target.value, last_target=target.value,
                                     last_push_id=row.id, pushed_at=finished))  # fmt: skip
        else:
            state.expected, state.last_target, state.last_push_id, state.pushed_at = (
                target.value, target.value, row.id, finished)
        PUSH_LATENCY.labels(source=name).observe(latency / 1000)
    if status == "dead":
        await _emit_failure(session, row)


async def _emit_failure(session: AsyncSession, row: Push) -> None:
    try:
        from hub.outbound import emit
    except ImportError:  # outbound webhooks not installed
        return
    await emit(session, "sync.failed", {"source": row.source, "sku": row.sku, "target": row.target,
                                        "error": row.response, "push_id": row.id},
               sku=row.sku, shop=row.source, parents=[f"push:{row.id}"])  # fmt: skip


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
