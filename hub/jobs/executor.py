"""Run durable jobs: claim, call the handler, record done / retry / dead.

Both queue implementations deliver job ids to :func:`execute`, and the batch pump hands claimed rows to
:func:`execute_batch`, so every path has the same semantics.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence

from hub.jobs import outbox
from hub.jobs.registry import JOBS, BatchItem, JobContext, JobSpec
from hub.storage.models import Job

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
        name, args, attempts = job.name, dict(job.args), job.attempts
    spec = JOBS.get(name)
    try:
        if spec is None:
            raise LookupError(f"no handler registered for job {name!r}")
        if spec.batched:
            failure = (await spec.handler(ctx, [BatchItem(job_id, args, attempts)])).get(job_id)
            if failure is not None:
                raise failure
            if spec.finishes_own:
                return "done"
        else:
            await spec.handler(ctx, **args)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job row
        return await _failed(ctx, spec, name, job_id, exc)
    async with ctx.sessionmaker() as session, session.begin():
        await outbox.finish(session, [job_id])
    return "done"


async def execute_batch(ctx: JobContext, spec: JobSpec, items: Sequence[BatchItem]) -> dict[int, str]:
    """Run claimed rows of one group together; the outcome per job id, as :func:`execute` gives it."""
    try:
        failures = await spec.handler(ctx, list(items))
    except Exception as exc:  # noqa: BLE001 - the whole batch failed: each row retries on its own
        failures = {item.job_id: exc for item in items}
    done = [item.job_id for item in items if item.job_id not in failures]
    outcomes = dict.fromkeys(done, "done")
    if done and not spec.finishes_own:
        async with ctx.sessionmaker() as session, session.begin():
            await outbox.finish(session, done)
    for job_id, exc in failures.items():
        outcomes[job_id] = await _failed(ctx, spec, spec.name, job_id, exc)
    return outcomes


async def _failed(ctx: JobContext, spec: JobSpec | None, name: str, job_id: int, exc: BaseException) -> str:
    retry_after = exc.seconds if isinstance(exc, RetryLater) else None
    if retry_after is None:
        log.warning("job %s (%s) failed: %s", job_id, name, exc)
    detail = str(exc) if isinstance(exc, RetryLater) else "".join(traceback.format_exception_only(exc)).strip()
    max_attempts = (spec.max_attempts if spec and spec.max_attempts else None) or ctx.settings.job_max_attempts
    async with ctx.sessionmaker() as session, session.begin():
        job = await session.get(Job, job_id)
        assert job is not None
        outcome = await outbox.fail(session, job, detail, max_attempts=max_attempts, retry_after=retry_after)
    if outcome == "retry" and not (spec and spec.batched):  # a pump picks due batch rows up by itself
        await ctx.queue.kick([job_id], delay=retry_after)
    return outcome
