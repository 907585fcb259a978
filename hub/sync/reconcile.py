"""Reconciliation: read what every channel shows, compare it with what it should show, report the drift,
and correct it (a figure changed behind the hub's back is pushed back to the rule's value)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from connectors.base import Capability, ConnectorError
from hub.channels import connector_of
from hub.jobs import outbox
from hub.jobs.registry import JobContext, job
from hub.jobs.scheduler import every
from hub.metrics import DRIFT
from hub.storage.models import RawEvent, Source, utcnow
from hub.storage.models_sync import ListingState, Push
from hub.sync.engine import enqueue_pushes, shop_lock

log = logging.getLogger("zhongshu.sync")


@job("sync.reconcile")
async def reconcile(ctx: JobContext) -> None:
    """Fan out one job per source, so a slow or unreachable channel delays only itself."""
    async with ctx.sessionmaker() as session, session.begin():
        sources = (await session.execute(select(Source.name, Source.listings).where(Source.enabled.is_(True)))).all()
        for name, listings in sources:
            if listings:
                await outbox.enqueue(session, "sync.reconcile_source", f"reconcile:{name}", {"source": name},
                                     priority=50)  # fmt: skip


@job("sync.reconcile_source", max_attempts=3)
async def reconcile_one(ctx: JobContext, source: str) -> None:
    async with ctx.sessionmaker() as session:
        row = await session.get(Source, source)
    if row is not None and row.enabled and row.listings:
        await reconcile_source(ctx, row)


async def reconcile_source(ctx: JobContext, source: Source) -> dict[str, int]:
    """Drift per sku (platform figure minus expected) for one source; corrections are enqueued.

    The platform is read under the shop's push lock, so no write of ours is in flight. A drift is corrected
    only when the previous reconciliation saw the same drift: an order or cancel the channel took whose
    webhook has not reached the hub yet looks like drift once, then the import moves ``expected`` and the
    drift goes away (or changes), and adopting the platform's figure on the first read would count it twice."""
    connector = connector_of(ctx.settings, source)
    if not connector.supports(Capability.READ_STOCK):
        return {}
    skus = sorted(source.listings or {})
    drift: dict[str, int] = {}
    async with shop_lock(ctx, source.name):
        try:
            platform = await connector.read_stock(skus)
        except ConnectorError as exc:
            log.warning("reconcile %s: cannot read stock: %s", source.name, exc)
            return {}
        async with ctx.sessionmaker() as session, session.begin():
            # Events from this channel not yet processed are orders the platform already counted and the hub
            # has not: adopting the platform's figure now would deduct them twice once they are imported.
            busy = await session.scalar(select(RawEvent.id).where(RawEvent.source == source.name,
                                                                  RawEvent.status == "pending").limit(1))  # fmt: skip
            # a write whose answer was lost may or may not be in the platform's figure: not drift until replayed
            unconfirmed = set((await session.execute(select(Push.sku).where(
                Push.source == source.name, Push.status == "sending"))).scalars())  # fmt: skip
            for sku in skus:
                state = await session.get(ListingState, (source.name, sku))
                if state is None or state.expected is None or sku not in platform or sku in unconfirmed:
                    continue
                diff = int(platform[sku]) - state.expected
                confirmed = diff != 0 and state.drift == diff  # the same drift on two reads in a row
                state.drift, state.reconciled_at = diff, utcnow()
                if not diff:
                    continue
                drift[sku] = diff
                if busy is not None or not confirmed:
                    continue  # reported; corrected by the next run if it persists
                state.expected = int(platform[sku])  # what the platform really holds now
                await enqueue_pushes(session, {sku: f"reconcile:{source.name}:{sku}"}, force=True)
    DRIFT.labels(source=source.name).set(len(drift))
    return drift


every("sync.reconcile", "reconcile_interval_seconds")
