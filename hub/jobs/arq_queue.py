"""arq adapter: the API enqueues job ids on Redis; ``zhongshu worker`` runs them.

The jobs every event causes are batch jobs (:mod:`hub.jobs.pump`), woken through a Redis list; arq carries
the others and polls every 100 ms. Redis is never the source of truth: a sweep
re-enqueues due rows from the ``jobs`` table, so ``FLUSHALL`` loses no work, and arq's ``_job_id`` keeps a
row from being queued twice while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from hub.jobs import outbox
from hub.jobs.executor import execute
from hub.jobs.pump import BatchPump
from hub.jobs.registry import JobContext, batched_names
from hub.jobs.scheduler import Scheduler

log = logging.getLogger("zhongshu.jobs")
QUEUE_NAME = "zhongshu:jobs"
SWEEP_SECONDS = 1.0
WAKE_LIST = "zhongshu:wakes"
WAKE_BACKLOG = 1000


def arq_job_id(job_id: int) -> str:
    return f"zhongshu-job:{job_id}"


class ArqJobQueue:
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._pool: ArqRedis | None = None

    async def start(self) -> None:
        self._pool = await create_pool(RedisSettings.from_dsn(self.redis_url), default_queue_name=QUEUE_NAME)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def _redis(self) -> ArqRedis:
        """The pool, opened on first use (the API enqueues before any worker has started it)."""
        if self._pool is None:
            await self.start()
        assert self._pool is not None
        return self._pool

    async def kick(self, job_ids: Sequence[int], *, delay: float | None = None, rearm_every: float | None = None) -> None:
        """``rearm_every``: jobs a dead worker held (re-armed, or pending but long overdue). Its arq entry stays
        "in progress" for ``job_timeout`` + 10 s and would swallow a re-delivery under the same arq id, so
        they go under another one, new once per ``rearm_every`` seconds (the row's claim still runs each
        job once)."""
        pool = await self._redis()
        suffix = f":r{int(time.time() // rearm_every)}" if rearm_every else ""
        for job_id in job_ids:
            try:
                await pool.enqueue_job("run_job", job_id, _job_id=arq_job_id(job_id) + suffix,
                                       _defer_by=delay or None)  # fmt: skip
            except Exception:  # noqa: BLE001 - the row is durable; the worker's sweep will deliver it
                log.warning("could not enqueue job %s on Redis; the sweep will pick it up", job_id)
                return

    async def first_in(self, name: str, seconds: float) -> bool:
        """True for the first caller (of every process) within ``seconds`` under ``name``."""
        pool = await self._redis()
        return bool(await pool.set(f"zhongshu:first:{name}", b"1", nx=True, px=max(1, int(seconds * 1000))))

    async def wake(self, names: Sequence[str]) -> None:
        """Batch jobs were enqueued: wake one worker's pump (a list, not a channel: a wake every worker heard
        would cost every worker a claim for rows only one of them gets). Pumps also poll, so a lost wake
        costs only a poll."""
        pool = await self._redis()
        try:
            async with pool.pipeline(transaction=False) as pipe:
                pipe.lpush(WAKE_LIST, ",".join(names))
                pipe.ltrim(WAKE_LIST, 0, WAKE_BACKLOG - 1)
                await pipe.execute()
        except Exception:  # noqa: BLE001
            log.warning("could not post a wake-up on Redis; the pumps' poll will pick the jobs up")


async def run_job(ctx: dict[str, Any], job_id: int) -> str:
    return await execute(ctx["zhongshu"], job_id)


async def _sweep_forever(ctx: JobContext) -> None:
    """Deliver due rows Redis does not know about (lost queue, failed enqueue, retries, stuck jobs)."""
    while True:
        try:
            async with ctx.sessionmaker() as session, session.begin():
                stuck_after = ctx.settings.job_stuck_after_seconds
                pumped = batched_names()  # the pump of this process claims those rows itself
                rearmed = await outbox.requeue_stuck_ids(session, stuck_after)
                rearmed += await outbox.overdue_job_ids(session, stuck_after, exclude=pumped)
                ids = await outbox.due_job_ids(session, exclude=pumped)
            if rearmed:
                await ctx.queue.kick(rearmed, rearm_every=stuck_after)
            await ctx.queue.kick([i for i in ids if i not in set(rearmed)])
        except Exception:  # noqa: BLE001
            log.exception("job sweep failed; retrying")
        await asyncio.sleep(SWEEP_SECONDS)


async def _listen_for_wakes(redis_url: str, pump: BatchPump) -> None:
    """Take wake-ups off the list (each goes to one worker) and wake the pump with every job name waiting
    there; reconnect after Redis restarts (the pump polls meanwhile)."""
    from redis.asyncio import Redis

    while True:
        client = Redis.from_url(redis_url)
        try:
            pump.wake()  # anything enqueued while we were not listening
            while True:
                first = await client.brpop([WAKE_LIST], timeout=5)
                if first is None:
                    continue
                more = await client.rpop(WAKE_LIST, WAKE_BACKLOG) or []
                names = {n for item in [first[1], *more] for n in _text(item).split(",") if n}
                pump.wake(names or None)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.warning("wake list lost; reconnecting")
            await asyncio.sleep(0.5)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def worker_settings(build_context: Any, redis_url: str, *, max_jobs: int = 20) -> dict[str, Any]:
    """Keyword arguments for :class:`arq.worker.Worker`; ``build_context`` is an async () -> JobContext."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        job_ctx: JobContext = await build_context()
        ctx["zhongshu"] = job_ctx
        scheduler = Scheduler(job_ctx)
        await scheduler.start()
        ctx["_scheduler"] = scheduler
        ctx["_sweep"] = asyncio.create_task(_sweep_forever(job_ctx))
        pump = BatchPump(job_ctx)
        await pump.start()
        ctx["_pump"] = pump
        ctx["_wakes"] = asyncio.create_task(_listen_for_wakes(redis_url, pump))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        for name in ("_sweep", "_wakes"):
            task = ctx.get(name)
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if ctx.get("_pump"):
            await ctx["_pump"].close()
        if ctx.get("_scheduler"):
            await ctx["_scheduler"].close()
        job_ctx: JobContext | None = ctx.get("zhongshu")
        if job_ctx is not None:
            await job_ctx.queue.close()
            close = job_ctx.extras.get("close")
            if close:
                await close()

    return {
        "functions": [func(run_job, name="run_job", max_tries=1000)],
        "redis_settings": RedisSettings.from_dsn(redis_url),
        "queue_name": QUEUE_NAME,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "poll_delay": 0.1,  # arq carries only the jobs that are not batched: the pump takes the hot ones
        "max_jobs": max_jobs,
        "keep_result": 0,
        "job_timeout": 300,
        "handle_signals": True,
    }


def make_worker(build_context: Any, redis_url: str, **kwargs: Any) -> Worker:
    return Worker(**worker_settings(build_context, redis_url, **kwargs))
