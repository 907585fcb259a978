"""Run one durable job: claim it, call its handler, record done / retry / dead.

Both queue implementations deliver job ids here, so in-process and arq jobs have the same semantics.
"""

from __future__ import annotations

import logging
import traceback

from hub.jobs import outbox
from hub.jobs.registry import JOBS, JobContext

log = logging.getLogger("zhongshu.jobs")


class RetryLater(Exception):
    """Raise from a handler to be re-run after ``seconds`` without it counting as an error in logs."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {seconds:.2f}s")
        self.seconds = seconds


async def execute(ctx: JobContext, job_id: int) -> str:
    """Returns what happened: ``done``, ``retry``, ``dead``, ``superseded`` or ``skipped`` (not claimable)."""
    async with ctx.sessionmaker() as session, session.begin():
        job = await outbox.claim(session, job_id)
        if job is None:
            return "skipped"
        name, args = job.name, dict(job.args)
    spec = JOBS.get(name)
    try:
        if spec is None:
            raise LookupError(f"no handler registered for job {name!r}")
        await spec.handler(ctx, **args)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job row
        retry_after = exc.seconds if isinstance(exc, RetryLater) else None
        if retry_after is None:
            log.warning("job %s (%s) failed: %s", job_id, name, exc)
        detail = str(exc) if isinstance(exc, RetryLater) else "".join(traceback.format_exception_only(exc)).strip()
        max_attempts = (spec.max_attempts if spec and spec.max_attempts else None) or ctx.settings.job_max_attempts
        async with ctx.sessionmaker() as session, session.begin():
            job = await session.get(type(job), job_id)
            assert job is not None
            outcome = await outbox.fail(session, job, detail, max_attempts=max_attempts, retry_after=retry_after)
        if outcome == "retry":
            await ctx.queue.kick([job_id], delay=retry_after)
        return outcome
    async with ctx.sessionmaker() as session, session.begin():
        await outbox.finish(session, job_id)
    return "done"
