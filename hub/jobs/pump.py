"""The batch pump: claims due rows of every batch job in bulk and runs them one group at a time.

Delivering each row through a queue costs a round trip, a claim and a finish per row; at hundreds of
events a second that is most of the work. A pump claims everything due of a job name in one statement
(``FOR UPDATE SKIP LOCKED``, so several workers share the rows), hands each group (a shop, a source) to its
own task, and that task runs whatever its group accumulated as one batch: under load batches grow by
themselves, at rest a batch is one row and waits for nothing. It wakes on :meth:`wake` (the commit that
enqueued the row, over Redis pub/sub or in-process) and polls every ``poll`` seconds for retries coming due
and rows enqueued elsewhere. Rows stay durable in ``jobs``; a pump killed with rows claimed leaves them
``running`` and they are re-armed after ``job_stuck_after_seconds`` like any other job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable

from hub.aio import work_when_woken
from hub.jobs import outbox
from hub.jobs.executor import execute_batch
from hub.jobs.registry import JOBS, BatchItem, JobContext, JobSpec

log = logging.getLogger("zhongshu.jobs")


class BatchPump:
    def __init__(self, ctx: JobContext, *, poll: float = 0.5, claim_limit: int = 500, max_in_flight: int = 2000,
                 max_batch: int = 200, min_claim_interval: float = 0.01) -> None:  # fmt: skip
        self.ctx = ctx
        self._poll, self._claim_limit, self._max_in_flight, self._max_batch = poll, claim_limit, max_in_flight, max_batch
        self._min_claim_interval = min_claim_interval
        self._wake = asyncio.Event()
        self._woken: set[str] | None = set()  # names to claim on the next round; None: every batch job
        self._loop_task: asyncio.Task[None] | None = None
        self._queued: dict[tuple[str, str], list[BatchItem]] = defaultdict(list)
        self._groups: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._in_flight = 0
        self._starved: set[str] = set()  # names left unclaimed for want of room

    @property
    def busy(self) -> bool:
        """Rows claimed and not yet finished in this process."""
        return self._in_flight > 0

    def wake(self, names: Iterable[str] | None = None) -> None:
        """Claim rows of job ``names`` (every batch job when None) now rather than at the next poll."""
        if names is None or self._woken is None:
            self._woken = None
        else:
            self._woken.update(names)
        self._wake.set()

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="zhongshu-batch-pump")

    async def close(self) -> None:
        tasks = [t for t in (self._loop_task, *self._groups.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self) -> None:
        # every commit that enqueues wakes every worker: under load, one claim per 10 ms takes what they brought
        await work_when_woken(self._wake, self._poll, self._claim_all, log=log, what="batch pump: claim",
                              min_interval=self._min_claim_interval)  # fmt: skip

    async def _claim_all(self) -> None:
        """One claim for every job name woken (all of them on a poll: retries come due, a wake may be lost)."""
        woken, self._woken = self._woken, set()
        if woken == set():  # the poll, not a wake
            woken = None
        batched = [s.name for s in JOBS.values() if s.batched]
        names = sorted(batched if woken is None else set(batched) & woken)
        room = min(self._claim_limit, self._max_in_flight - self._in_flight)
        if not names:
            return
        if room <= 0:
            self._starved.update(names)  # claimed when a group finishes and frees room
            return
        async with self.ctx.sessionmaker() as session, session.begin():
            claimed = await outbox.claim_batch(session, names, room)
        if len(claimed) >= room:  # there may be more: ask again when a group finishes
            self._starved.update(names)
        for name, item in claimed:
            spec = JOBS[name]
            assert spec.group is not None
            key = (name, spec.group(item.args))
            self._queued[key].append(item)
            self._in_flight += 1
            if key not in self._groups:
                self._groups[key] = asyncio.create_task(self._run_group(spec, key), name=f"pump:{key[1]}")

    async def _run_group(self, spec: JobSpec, key: tuple[str, str]) -> None:
        try:
            while self._queued.get(key):
                items = self._queued[key][: self._max_batch]
                del self._queued[key][: len(items)]
                try:
                    await execute_batch(self.ctx, spec, items)
                except Exception:  # noqa: BLE001 - rows stay running; re-armed as stuck later
                    log.exception("batch %s %s could not be recorded", spec.name, key[1])
                finally:
                    self._in_flight -= len(items)
        finally:
            self._queued.pop(key, None)
            self._groups.pop(key, None)
            if self._starved:  # room freed: claim what waited
                names, self._starved = set(self._starved), set()
                self.wake(names)
