"""Job handlers of the foundation: expiring reservations."""

from __future__ import annotations

import logging

from hub.domain.errors import HubError
from hub.jobs.registry import JobContext, job
from hub.metrics import INBOUND
from hub.jobs.scheduler import every
from hub.services import reservations

log = logging.getLogger("zhongshu.jobs")


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


@job("inbox.process")
async def process_raw_event(ctx: JobContext, raw_event_id: int) -> None:
    """Map, arbitrate and settle one inbound event (idempotent: a processed event is skipped)."""
    from hub.semantics import semantics
    from hub.services import pipeline

    async with ctx.sessionmaker() as session, session.begin():
        outcome = await pipeline.process(
            session, semantics(), raw_event_id, guarded_buckets=ctx.settings.guarded_buckets,
            default_location=ctx.settings.default_location,
        )  # fmt: skip
    INBOUND.labels(source="*", outcome=outcome.status).inc()
