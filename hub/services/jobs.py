"""Job handlers of the foundation: expiring reservations."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import HubError
from hub.jobs import outbox
from hub.jobs.registry import BatchItem, JobContext, job
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


@job("inbox.process", group=lambda args: str(args.get("source") or ""), finishes_own=True)
async def process_raw_events(ctx: JobContext, items: list[BatchItem]) -> dict[int, BaseException]:
    """Map, arbitrate and settle a source's inbound events: plain ones (orders, channel stock levels) as
    one run in one transaction, the others one transaction each (see :mod:`hub.services.pipeline_batch`).
    Idempotent: a processed event is skipped."""
    from hub.semantics import semantics
    from hub.services.pipeline_batch import process_batch

    jobs: dict[int, list[int]] = {}
    for item in items:
        jobs.setdefault(int(item.args["raw_event_id"]), []).append(item.job_id)
    async def finish(session: AsyncSession, raw_ids: Sequence[int]) -> None:
        await outbox.finish(session, [job_id for raw_id in raw_ids for job_id in jobs[raw_id]])

    failures = await process_batch(ctx.sessionmaker, semantics(), list(jobs), guarded_buckets=ctx.settings.guarded_buckets,
                                   default_location=ctx.settings.default_location, finish=finish)  # fmt: skip
    return {job_id: exc for raw_id, exc in failures.items() for job_id in jobs[raw_id]}
