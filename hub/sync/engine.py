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
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Capability, ConflictError, Connector, PermanentError, RateLimited, TransientError
from hub import lineage
from hub.channels import connector_of
from hub.domain.ledger import Movement
from hub.jobs import outbox
from hub.jobs.executor import RetryLater
from hub.jobs.registry import JobContext, job
from hub.metrics import PUSH_ERRORS, PUSH_LATENCY
from hub.services import ledger
from hub.storage import locks
from hub.storage.models import Balance, Source, utcnow
from hub.storage.models_sync import ListingState, Push
from hub.sync.publish import PublishRule, Target, sellable

log = logging.getLogger("zhongshu.sync")
PUSH_JOB = "sync.push"
ZERO_LANE, NORMAL_LANE = 0, 100
_local_locks: dict[tuple[str, str], asyncio.Lock] = {}


async def listings_of(session: AsyncSession, sku: str) -> list[Source]:
    sources = (await session.execute(select(Source).where(Source.enabled.is_(True)))).scalars().all()
    return [s for s in sources if sku in (s.listings or {})]


async def free_by_location(session: AsyncSession, sku: str) -> dict[str, int]:
    rows = (await session.execute(select(Balance.account, Balance.qty).where(
        Balance.sku == sku, Balance.account.like("%/free")))).all()  # fmt: skip
    return {account.rsplit("/", 1)[0]: qty for account, qty in rows}


async def on_ledger_change(session: AsyncSession, applied: list[Movement], ids: dict[str, int]) -> None:
    """Enqueue a push for every listing of every sku the batch touched; zero stock goes first."""
    by_sku: dict[str, int] = {}
    for m in applied:
        by_sku[m.sku] = ids[m.key]
    for sku, movement_id in sorted(by_sku.items()):
        await enqueue_pushes(session, sku, cause=f"movement:{movement_id}")


async def enqueue_pushes(session: AsyncSession, sku: str, *, cause: str, force: bool = False) -> None:
    sources = await listings_of(session, sku)
    if not sources:
        return
    lane = ZERO_LANE if sum((await free_by_location(session, sku)).values()) <= 0 else NORMAL_LANE
    changed_at = utcnow().isoformat()
    for source in sources:
        await outbox.enqueue(session, PUSH_JOB, f"push:{source.name}:{sku}",
                             {"source": source.name, "sku": sku, "cause": cause, "changed_at": changed_at,
                              "force": force}, priority=lane)  # fmt: skip


ledger.LISTENERS.append(on_ledger_change)


async def note_channel_order(session: AsyncSession, source: str, sku: str, delta: int) -> None:
    """The channel itself took (delta < 0) or gave back (delta > 0) units: it already shows the change."""
    await session.execute(update(ListingState).where(ListingState.source == source, ListingState.sku == sku,
                                                     ListingState.expected.is_not(None))
                          .values(expected=ListingState.expected + delta))  # fmt: skip


@job(PUSH_JOB, max_attempts=20)
async def push(ctx: JobContext, source: str, sku: str, cause: str = "", changed_at: str | None = None,
               force: bool = False) -> None:  # fmt: skip
    """Serialised per listing. On PostgreSQL one session (one pooled connection) does it all: the advisory
    lock, the reads, the platform write and the record, committed last, which releases the lock. Two
    sessions per push (lock + work) let ``max_jobs`` pushes exhaust the pool and wait on each other."""
    if ctx.settings.is_sqlite:  # SQLite: an asyncio lock, and no transaction held open across the HTTP call
        lock = _local_locks.setdefault((source, sku), asyncio.Lock())
        async with lock:
            async with ctx.sessionmaker() as session:
                plan = await _plan(ctx, session, source, sku, changed_at, force)
            if plan is None:
                return
            outcome = await _send(plan, cause)
            async with ctx.sessionmaker() as session, session.begin():
                await _record(session, plan, outcome, cause, changed_at)
        _raise_for(outcome)
        return
    async with ctx.sessionmaker() as session, session.begin():
        await locks.lock(session, [f"listing:{source}:{sku}"])
        plan = await _plan(ctx, session, source, sku, changed_at, force)
        if plan is None:
            return
        outcome = await _send(plan, cause)
        await _record(session, plan, outcome, cause, changed_at)
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


async def _plan(ctx: JobContext, session: AsyncSession, name: str, sku: str, changed_at: str | None,
                force: bool) -> _Plan | None:  # fmt: skip
    """What to send, from the latest state; None when the channel already shows the target."""
    src = await session.get(Source, name)
    if src is None or not src.enabled or sku not in (src.listings or {}):
        return None
    connector = connector_of(ctx.settings, src)
    rule = PublishRule.from_config((src.settings or {}).get("publish", {}), src.listings[sku])
    target = sellable(rule, await free_by_location(session, sku), now=datetime.now(timezone.utc))
    state = await session.get(ListingState, (name, sku))
    expected = state.expected if state else None
    if expected == target.value and not force:
        return None
    mode, sent = _mode(connector, expected, target.value)
    if mode == "absolute" and expected is not None and target.value > expected and changed_at:
        waited = (utcnow() - datetime.fromisoformat(changed_at)).total_seconds()
        if waited < rule.settle_seconds:  # an increase on an absolute-only platform waits for in-flight orders
            raise RetryLater(rule.settle_seconds - waited, "increase waits its settle time")
    return _Plan(name, sku, connector, target, expected, mode, sent)


async def _send(plan: _Plan, cause: str) -> _Outcome:
    started = utcnow()
    try:
        result, mode, sent = await _write(plan.connector, plan.sku, plan.mode, plan.sent, plan.expected,
                                          plan.target.value, key=f"{plan.name}:{plan.sku}:{cause}")  # fmt: skip
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


async def _record(session: AsyncSession, plan: _Plan, outcome: _Outcome, cause: str, changed_at: str | None) -> None:
    name, sku, target, status = plan.name, plan.sku, plan.target, outcome.status
    finished = utcnow()
    since = datetime.fromisoformat(changed_at) if changed_at else outcome.started
    latency = (finished - since).total_seconds() * 1000
    platform_after = outcome.result.quantity if status == "ok" else None
    row = Push(source=name, sku=sku, target=target.value, mode=outcome.mode, sent=outcome.sent,
               expected_before=plan.expected, platform_after=platform_after, status=status,
               response=outcome.error[:2000], explanation=target.explain(), caused_by=cause, changed_at=since,
               started_at=outcome.started, finished_at=finished, latency_ms=latency)  # fmt: skip
    session.add(row)
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
