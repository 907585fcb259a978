"""In-process job runner for the embedded mode: the same durable rows, run by asyncio tasks.

It wakes on :meth:`kick` and otherwise polls the table, so jobs enqueued by another process (the CLI, a
second API process) and retries that come due are picked up too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from hub.aio import work_when_woken
from hub.jobs import outbox
from hub.jobs.executor import execute
from hub.jobs.pump import BatchPump
from hub.jobs.registry import JobContext, batched_names
from hub.jobs.scheduler import Scheduler

log = logging.getLogger("zhongshu.jobs")


class LocalJobQueue:
    """Runs due jobs with at most ``concurrency`` at once; ``poll_interval`` bounds pickup of foreign jobs."""

    def __init__(self, *, concurrency: int = 8, poll_interval: float = 0.25) -> None:
        self.ctx: JobContext | None = None
        self._wake = asyncio.Event()
        self._concurrency = concurrency
        self._poll = poll_interval
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[int] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._scheduler: Scheduler | None = None
        self._pump: BatchPump | None = None

    def bind(self, ctx: JobContext) -> None:
        self.ctx = ctx

    async def kick(self, job_ids: Sequence[int], *, delay: float | None = None) -> None:
        if delay:
            asyncio.get_running_loop().call_later(delay, self._wake.set)
        else:
            self._wake.set()

    async def wake(self, names: Sequence[str]) -> None:
        """Batch jobs were enqueued: the pump claims them (a process that runs no jobs has none)."""
        if self._pump is not None:
            self._pump.wake(names)

    async def first_in(self, name: str, seconds: float) -> bool:
        """One process runs this queue: it is always the first."""
        return True

    async def start(self) -> None:
        assert self.ctx is not None, "bind(ctx) first"
        self._pump = BatchPump(self.ctx)
        await self._pump.start()
        self._loop_task = asyncio.create_task(self._loop(), name="zhongshu-local-jobs")
        self._scheduler = Scheduler(self.ctx)
        await self._scheduler.start()

    async def close(self) -> None:
        if self._scheduler:
            await self._scheduler.close()
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._pump is not None:
            await self._pump.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until no job is due or running (tests and the CLI use it)."""
        assert self.ctx is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            async with self.ctx.sessionmaker() as session:
                due = await outbox.due_job_ids(session, limit=1)
            if not due and not self._running and not (self._pump and self._pump.busy):
                return
            self._wake.set()
            if self._pump is not None:
                self._pump.wake()
            await asyncio.sleep(0.02)
        raise TimeoutError("jobs still due after drain timeout")

    async def _loop(self) -> None:
        assert self.ctx is not None
        await work_when_woken(self._wake, self._poll, self._dispatch_due, log=log,
                              what="local job runner: dispatch")  # fmt: skip

    async def _dispatch_due(self) -> None:
        assert self.ctx is not None
        free = self._concurrency - len(self._running)
        if free <= 0:
            return
        async with self.ctx.sessionmaker() as session, session.begin():
            ids = await outbox.due_job_ids(session, limit=free + len(self._running),
                                           stuck_after=self.ctx.settings.job_stuck_after_seconds,
                                           exclude=batched_names())  # fmt: skip
        for job_id in ids:
            if job_id in self._running or len(self._running) >= self._concurrency:
                continue
            self._running.add(job_id)
            task = asyncio.create_task(self._run(job_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, job_id: int) -> None:
        assert self.ctx is not None
        try:
            await execute(self.ctx, job_id)
        except Exception:  # noqa: BLE001
            log.exception("job %s crashed the executor", job_id)
        finally:
            self._running.discard(job_id)
            self._wake.set()
