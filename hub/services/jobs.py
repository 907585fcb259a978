"""Job handlers of the foundation: expiring reservations."""

from __future__ import annotations

import asyncio
import logging

from hub.domain.errors import HubError
from hub.jobs.registry import BatchItem, JobContext, job
from hub.metrics import INBOUND
from hub.jobs.scheduler import every
from hub.services import reservations

log = logging.getLogger("zhongshu.jobs")
INBOX_CONCURRENCY = 8
"""Events of one source processed at once by one worker (each holds a database connection)."""


@job("reservations.expire")
async def expire_reservations(ctx: JobContext) -> None:
    """Release held reservations whose ``expires_at`` passed (unpaid orders, campaign locks)."""
    async with ctx.sessionmaker() as session:
        keys = await reservations.due_for_expiry(session)
    for key in keys:
        async with ctx.sessionmaker() as session, session.begin():
            try:
                await reservations.settle(session, key, "expire", guarded_buckets=ctx.settings.guarded_buckets)
            except HubError as exc:  # shipped or cancelled meanwhile: nothing to expire
                log.info("reservation %s not expired: %s", key, exc.detail)


every("reservations.expire", "reservation_sweep_seconds")


@job("inbox.process", group=lambda args: str(args.get("source") or ""))
async def process_raw_events(ctx: JobContext, items: list[BatchItem]) -> dict[int, BaseException]:
    """Map, arbitrate and settle a source's inbound events, one transaction each (so one bad event fails
    alone), several at a time: events are independent and the pipeline serialises those that touch the
    same sku. Idempotent: a processed event is skipped."""
    from hub.semantics import semantics
    from hub.services import pipeline

    failures: dict[int, BaseException] = {}
    gate = asyncio.Semaphore(INBOX_CONCURRENCY)

    async def one(item: BatchItem) -> None:
        async with gate:
            try:
                async with ctx.sessionmaker() as session, session.begin():
                    outcome = await pipeline.process(
                        session, semantics(), int(item.args["raw_event_id"]),
                        guarded_buckets=ctx.settings.guarded_buckets, default_location=ctx.settings.default_location,
                    )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - recorded on this event's job; the others go on
                failures[item.job_id] = exc
                return
            INBOUND.labels(source="*", outcome=outcome.status).inc()

    await asyncio.gather(*(one(item) for item in sorted(items, key=lambda i: int(i.args["raw_event_id"]))))
    return failures
