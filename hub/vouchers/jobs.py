"""Job handlers: ``vouchers.scan`` (periodic) and ``vouchers.post`` (one per voucher and ERP)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.jobs.registry import JobContext, job
from hub.jobs.scheduler import every
from hub.vouchers.config import VoucherConfig, load_config
from hub.vouchers.posting import PostOutcome, post_one
from hub.vouchers.scan import ScanResult, scan

SCAN_JOB = "vouchers.scan"
SCAN_EVERY_SECONDS = 2.0


def config_of(ctx: JobContext) -> VoucherConfig:
    return load_config(ctx.settings, ctx.extras)


async def run_scan(ctx: JobContext, *, now: datetime | None = None, max_batches: int = 100) -> list[ScanResult]:
    """Scan until caught up (or blocked), committing each batch and kicking its post jobs."""
    config = config_of(ctx)
    results = []
    for _ in range(max_batches):
        async with ctx.sessionmaker() as session, session.begin():
            result = await scan(session, config, now=now)
        if result.job_ids:
            await ctx.queue.kick(result.job_ids)
        results.append(result)
        if not result.more or result.blocked:
            break
    return results


@job(SCAN_JOB)
async def scan_movements(ctx: JobContext) -> None:
    """New ledger movements → vouchers and post jobs (idempotent: the cursor and voucher keys)."""
    await run_scan(ctx)


@job("vouchers.post")
async def post_voucher(ctx: JobContext, posting_id: int, **_: Any) -> None:
    """Post one voucher to one ERP exactly once; transient errors retry with backoff (RetryLater)."""
    await post_posting(ctx, posting_id)


async def post_posting(ctx: JobContext, posting_id: int) -> PostOutcome:
    return await post_one(ctx.sessionmaker, ctx.settings, config_of(ctx), posting_id)


every(SCAN_JOB, SCAN_EVERY_SECONDS)
