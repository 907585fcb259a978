"""Durable jobs on real PostgreSQL, with the in-process runner and with arq on a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select, update

from hub.bootstrap import build_hub
from hub.jobs import outbox
from hub.jobs.arq_queue import QUEUE_NAME, ArqJobQueue, make_worker
from hub.jobs.executor import execute
from hub.jobs.registry import BatchItem, JobContext, job
from hub.services.uow import UnitOfWork
from hub.settings import Settings
from hub.storage.models import Job, utcnow
from tests.conftest import REDIS_URL
from tests.support.processes import hub_env, zhongshu

CALLS: Counter[str] = Counter()
FAIL_FIRST: dict[str, int] = {}


@job("test.record")
async def record_call(ctx: JobContext, tag: str) -> None:
    CALLS[tag] += 1
    if FAIL_FIRST.get(tag, 0) > 0:
        FAIL_FIRST[tag] -= 1
        raise RuntimeError(f"planned failure for {tag}")


@job("test.record_limited", max_attempts=2)
async def record_limited(ctx: JobContext, tag: str) -> None:
    CALLS[tag] += 1
    raise RuntimeError("always fails")


BATCHES: list[tuple[str, list[str]]] = []


@job("test.batch", group=lambda args: str(args["group"]))
async def record_batch(ctx: JobContext, items: list[BatchItem]) -> dict[int, BaseException]:
    groups = {str(i.args["group"]) for i in items}
    assert len(groups) == 1, f"a batch mixed groups {groups}"
    BATCHES.append((groups.pop(), sorted(str(i.args["tag"]) for i in items)))
    failures: dict[int, BaseException] = {}
    for item in items:
        tag = str(item.args["tag"])
        CALLS[tag] += 1
        if FAIL_FIRST.get(tag, 0) > 0:
            FAIL_FIRST[tag] -= 1
            failures[item.job_id] = RuntimeError(f"planned failure for {tag}")
    return failures


async def wait_for(predicate: Any, timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def job_state(hub: Any, job_id: int) -> Job:
    async with hub.sessionmaker() as session:
        row = await session.get(Job, job_id)
        assert row is not None
        return row


async def test_pending_jobs_with_one_key_coalesce_into_one_run(private_pg_settings: Settings) -> None:
    tag = uuid.uuid4().hex
    hub = await build_hub(private_pg_settings, run_jobs=False)  # drain() waits for every due job of the database
    try:
        async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
            ids = {await uow.enqueue("test.record", f"k:{tag}", {"tag": tag}) for _ in range(5)}
            await uow.commit()
        assert len(ids) == 1
        await hub.queue.start()
        await hub.queue.drain()
        assert CALLS[tag] == 1
        assert (await job_state(hub, ids.pop())).state == "done"
    finally:
        await hub.close()


async def test_failed_job_is_retried_until_it_succeeds_then_dead_lettered_when_it_never_does(
    pg_settings: Settings,
) -> None:
    ok, bad = uuid.uuid4().hex, uuid.uuid4().hex
    FAIL_FIRST[ok] = 2
    hub = await build_hub(pg_settings, run_jobs=True)
    try:
        async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
            ok_id = await uow.enqueue("test.record", f"k:{ok}", {"tag": ok})
            bad_id = await uow.enqueue("test.record_limited", f"k:{bad}", {"tag": bad})
            await uow.commit()
        await wait_for(lambda: _states_are(hub, {ok_id: "done", bad_id: "dead"}))
        assert CALLS[ok] == 3 and (await job_state(hub, ok_id)).attempts == 3
        dead = await job_state(hub, bad_id)
        assert CALLS[bad] == 2 and "always fails" in (dead.last_error or "")
    finally:
        await hub.close()


async def _states_are(hub: Any, expected: dict[int, str]) -> bool:
    for job_id, state in expected.items():
        if (await job_state(hub, job_id)).state != state:
            return False
    return True


async def test_a_job_whose_worker_died_is_run_again(private_pg_settings: Settings) -> None:
    tag = uuid.uuid4().hex
    hub = await build_hub(private_pg_settings, run_jobs=False)
    try:
        async with hub.sessionmaker() as session, session.begin():
            job_id = await outbox.enqueue(session, "test.record", f"k:{tag}", {"tag": tag})
        async with hub.sessionmaker() as session, session.begin():
            assert await outbox.claim(session, job_id) is not None  # a worker took it … and was killed
            await session.execute(update(Job).where(Job.id == job_id).values(claimed_at=utcnow() - timedelta(hours=1)))
        assert await execute(hub.ctx, job_id) == "skipped"  # running elsewhere: not claimable
        async with hub.sessionmaker() as session, session.begin():
            assert job_id in await outbox.due_job_ids(session, stuck_after=60)
        assert await execute(hub.ctx, job_id) == "done"
        assert CALLS[tag] == 1
    finally:
        await hub.close()


@contextlib.asynccontextmanager
async def arq_worker(settings: Settings) -> Any:
    async def build_context() -> JobContext:
        worker_hub = await build_hub(settings, run_jobs=False)
        worker_hub.ctx.extras["close"] = worker_hub.close
        return worker_hub.ctx

    worker = make_worker(build_context, settings.redis_url or "", max_jobs=10)
    worker.handle_signals = False
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await worker.close()


async def test_arq_delivers_jobs_and_a_redis_flush_loses_none(pg_settings: Settings) -> None:
    settings = pg_settings.model_copy(update={"redis_url": REDIS_URL})
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(QUEUE_NAME)
    tags = [uuid.uuid4().hex for _ in range(3)]
    hub = await build_hub(settings)
    try:
        assert isinstance(hub.queue, ArqJobQueue)
        async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
            ids = [await uow.enqueue("test.record", f"k:{t}", {"tag": t}) for t in tags]
            await uow.commit()
        async def queued() -> bool:  # delivered to Redis right after the commit
            return await redis.zcard(QUEUE_NAME) >= 3

        await wait_for(queued)
        await redis.flushdb()  # Redis loses every queued job before any worker ran
        async with arq_worker(settings):
            await wait_for(lambda: _states_are(hub, dict.fromkeys(ids, "done")))
        assert all(CALLS[t] == 1 for t in tags)
    finally:
        await hub.close()
        await redis.aclose()


async def test_jobs_recover_command_redelivers_due_work_to_redis(private_pg_settings: Settings) -> None:
    settings = private_pg_settings.model_copy(update={"redis_url": REDIS_URL})
    redis = Redis.from_url(REDIS_URL)
    hub = await build_hub(settings, run_jobs=False)
    tag = uuid.uuid4().hex
    try:
        async with hub.sessionmaker() as session, session.begin():
            job_id = await outbox.enqueue(session, "test.record", f"k:{tag}", {"tag": tag})
        await redis.flushdb()
        out = subprocess.run(zhongshu("jobs", "recover"), env=hub_env(database_url=settings.database_url,
                             redis_url=REDIS_URL), capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "re-delivered" in out.stderr
        assert await redis.exists(f"arq:job:zhongshu-job:{job_id}")
    finally:
        await hub.close()
        await redis.aclose()


async def test_enqueue_coalescing_keeps_the_most_urgent_priority(pg_settings: Settings) -> None:
    hub = await build_hub(pg_settings, run_jobs=False)
    key = f"k:{uuid.uuid4().hex}"
    try:
        async with hub.sessionmaker() as session, session.begin():
            a = await outbox.enqueue(session, "test.record", key, {"tag": "x"}, priority=100, delay=30)
            b = await outbox.enqueue(session, "test.record", key, {"tag": "x"}, priority=0)
        assert a == b
        row = await job_state(hub, a)
        assert row.priority == 0 and row.run_at <= utcnow()
        async with hub.sessionmaker() as session:
            n = len((await session.execute(select(Job).where(Job.job_key == key))).scalars().all())
        assert n == 1
    finally:
        await hub.close()


@pytest.mark.parametrize("value, name", [("nope://x", "ZHONGSHU_DATABASE_URL"), ("99999", "ZHONGSHU_PORT")])
def test_invalid_settings_stop_the_cli_naming_the_setting(value: str, name: str) -> None:
    key = name.removeprefix("ZHONGSHU_").lower()
    out = subprocess.run(zhongshu("db", "upgrade"), env=hub_env(**{key: value}), capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 2
    assert name in out.stderr and "Traceback" not in out.stderr


def test_help_lists_the_commands() -> None:
    out = subprocess.run(zhongshu("--help"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("serve", "worker", "db", "jobs"):
        assert command in out.stdout


async def _enqueue_batch(hub: Any, run: str, groups: int, per_group: int) -> dict[str, int]:
    async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
        ids = {f"{run}-{g}-{n}": await uow.enqueue("test.batch", f"b:{run}-{g}-{n}",
                                                  {"group": f"{run}-{g}", "tag": f"{run}-{g}-{n}"})
               for g in range(groups) for n in range(per_group)}  # fmt: skip
        await uow.commit()
    return ids


async def test_batch_jobs_run_together_per_group_and_a_failing_row_retries_alone(pg_settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    hub = await build_hub(pg_settings, run_jobs=False)
    try:
        ids = await _enqueue_batch(hub, run, groups=2, per_group=15)
        bad = f"{run}-1-7"
        FAIL_FIRST[bad] = 1
        await hub.queue.start()
        await wait_for(lambda: _states_are(hub, dict.fromkeys(ids.values(), "done")))
        mine = [(g, tags) for g, tags in BATCHES if g.startswith(run)]
        assert {g for g, _ in mine} == {f"{run}-0", f"{run}-1"}
        assert len(mine) <= 4, mine  # 30 rows claimed together: one batch per group, plus the retry
        assert all(CALLS[t] == 1 for t in ids if t != bad) and CALLS[bad] == 2
        assert (await job_state(hub, ids[bad])).attempts == 2
        assert (await job_state(hub, ids[f"{run}-1-6"])).attempts == 1
    finally:
        await hub.close()


async def test_batch_jobs_are_woken_over_redis_not_queued_one_by_one(pg_settings: Settings) -> None:
    settings = pg_settings.model_copy(update={"redis_url": REDIS_URL})
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(QUEUE_NAME)
    run = uuid.uuid4().hex[:8]
    hub = await build_hub(settings)
    try:
        async with arq_worker(settings):
            await asyncio.sleep(0.5)  # subscribed
            ids = await _enqueue_batch(hub, run, groups=3, per_group=10)
            queued: set[bytes] = set()

            async def done() -> bool:
                queued.update(await redis.zrange(QUEUE_NAME, 0, -1))
                return await _states_are(hub, dict.fromkeys(ids.values(), "done"))

            await wait_for(done)
            # the pump claimed them: no arq entry per row (periodic jobs of the worker may be queued)
            assert not {f"zhongshu-job:{i}".encode() for i in ids.values()} & queued
        assert all(CALLS[t] == 1 for t in ids)
        assert len([g for g, _ in BATCHES if g.startswith(run)]) < len(ids)
    finally:
        await hub.close()
        await redis.aclose()
