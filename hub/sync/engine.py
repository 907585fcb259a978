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

from sqlalchemy import select, text, update
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


_SOURCES: dict[tuple[int, str], tuple[str, Source, Connector]] = {}  # per event loop, like the connectors


async def _source_and_connector(ctx: JobContext, session: AsyncSession, name: str) -> tuple[Source | None, Connector | None]:
    """The source row and its connector, cached per process while the row is unchanged: PostgreSQL hashes
    the row (``md5(sources::text)``) so an unchanged source costs one small query instead of shipping,
    decoding and fingerprinting its listings on every push."""
    if not _is_postgres(session):
        src = await session.get(Source, name)
        return src, (connector_of(ctx.settings, src) if src is not None else None)
    digest = await session.scalar(text("SELECT md5(sources::text) FROM sources WHERE name = :n"), {"n": name})
    if digest is None:
        return None, None
    key = (id(asyncio.get_running_loop()), name)
    cached = _SOURCES.get(key)
    if cached is not None and cached[0] == digest:
        return cached[1], cached[2]
    src = await session.get(Source, name, populate_existing=True)
    if src is None:
        return None, None
    connector = connector_of(ctx.settings, src)
    session.expunge(src)
    _SOURCES[key] = (digest, src, connector)
    return src, connector


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


@job(PUSH_JOB, max_attempts=20)
async def push(ctx: JobContext, source: str, sku: str, cause: str = "", changed_at: str | None = None,
               force: bool = False) -> None:  # fmt: skip
    """Serialised per listing (an advisory lock on PostgreSQL, an asyncio lock in embedded mode).

    On PostgreSQL the write is *announced* first: a ``pushes`` row in state ``sending`` is committed before
    the platform is called, under an idempotency key of its own (``push<id>``). A worker killed after the
    platform applied a delta but before the hub recorded it leaves that row behind; the next push to the
    listing replays it with the same key (the platform answers "already done") and books it, instead of
    sending the delta a second time. One connection carries the lock and every step, so ``max_jobs``
    concurrent pushes need ``max_jobs`` connections, not twice as many."""
    if ctx.settings.is_sqlite:  # SQLite: no transaction held open across the HTTP call
        lock = _local_locks.setdefault((id(asyncio.get_running_loop()), source, sku), asyncio.Lock())
        async with lock:
            async with ctx.sessionmaker() as session:
                plan = await _plan(ctx, session, source, sku, changed_at, force)
            if plan is None:
                return
            outcome = await _send(plan, f"{source}:{sku}:{cause}")
            async with ctx.sessionmaker() as session, session.begin():
                await _record(session, plan, outcome, cause, changed_at)
        _raise_for(outcome)
        return
    engine = ctx.sessionmaker.kw["bind"]
    key = locks.lock_id(f"listing:{source}:{sku}")
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        await conn.commit()
        try:
            async with ctx.sessionmaker(bind=conn) as session:
                await _replay_unfinished(ctx, session, source, sku)
                plan = await _plan(ctx, session, source, sku, changed_at, force)
                if plan is None:
                    await session.commit()
                    return
                intent = await _announce(session, plan, cause, changed_at)
                await session.commit()
                outcome = await _send(plan, f"{source}:{sku}:push{intent.id}")
                await _record(session, plan, outcome, cause, changed_at, row=intent)
                await session.commit()
        finally:
            if not conn.closed and not conn.invalidated:
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()
    _raise_for(outcome)


async def _announce(session: AsyncSession, plan: _Plan, cause: str, changed_at: str | None) -> Push:
    started = utcnow()
    row = Push(source=plan.name, sku=plan.sku, target=plan.target.value, mode=plan.mode, sent=plan.sent,
               expected_before=plan.expected, status="sending", response="", explanation=plan.target.explain(),
               caused_by=cause, changed_at=datetime.fromisoformat(changed_at) if changed_at else started,
               started_at=started)  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def _replay_unfinished(ctx: JobContext, session: AsyncSession, name: str, sku: str) -> None:
    """Book a write an earlier (killed) push announced but never recorded: same request, same key."""
    rows = (await session.execute(select(Push).where(Push.source == name, Push.sku == sku, Push.status == "sending")
                                  .order_by(Push.id))).scalars().all()  # fmt: skip
    for row in rows:
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


async def _plan(ctx: JobContext, session: AsyncSession, name: str, sku: str, changed_at: str | None,
                force: bool) -> _Plan | None:  # fmt: skip
    """What to send, from the latest state; None when the channel already shows the target."""
    src, connector = await _source_and_connector(ctx, session, name)
    if src is None or connector is None or not src.enabled or sku not in (src.listings or {}):
        return None
    rule = PublishRule.from_config((src.settings or {}).get("publish", {}), src.listings[sku])
    target = sellable(rule, await free_by_location(session, sku), now=datetime.now(timezone.utc))
    state = await session.get(ListingState, (name, sku), populate_existing=True)
    expected = state.expected if state else None
    if expected == target.value and not force:
        return None
    mode, sent = _mode(connector, expected, target.value)
    if mode == "absolute" and expected is not None and target.value > expected and changed_at:
        waited = (utcnow() - datetime.fromisoformat(changed_at)).total_seconds()
        if waited < rule.settle_seconds:  # an increase on an absolute-only platform waits for in-flight orders
            raise RetryLater(rule.settle_seconds - waited, "increase waits its settle time")
    return _Plan(name, sku, connector, target, expected, mode, sent)


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
    if row is None:
        row = Push(source=name, sku=sku, target=target.value, expected_before=plan.expected,
                   explanation=target.explain(), caused_by=cause, changed_at=since, started_at=outcome.started)  # fmt: skip
        session.add(row)
    row.mode, row.sent, row.platform_after, row.status = outcome.mode, outcome.sent, platform_after, status
    row.response, row.finished_at, row.latency_ms = outcome.error[:2000], finished, latency
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
