"""What every bench here shares: a scratch PostgreSQL database, a Redis db index, the hub's processes
(``zhongshu serve`` / ``zhongshu worker``) as subprocesses, percentiles and the machine's load.

Nothing here is asserted; the benches print tables for the README.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from cryptography.fernet import Fernet

from tests.support.hubserver import free_port
from tests.support.processes import ROOT, hub_env, log_file, stop, wait_healthy, zhongshu

PG_ADMIN = os.environ.get("ZHONGSHU_TEST_PG", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("ZHONGSHU_BENCH_REDIS", "redis://127.0.0.1:6379")


async def fresh_pg(name: str) -> str:
    """Drop and create database ``name``; returns its SQLAlchemy (asyncpg) URL."""
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def fresh_sqlite() -> str:
    return f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='zhongshu-bench-')}/bench.db"


async def fresh_redis(db: int) -> str:
    """Empty Redis db index ``db`` (a dedicated index, so other users of the server are untouched)."""
    import redis.asyncio as aioredis

    url = f"{REDIS_BASE}/{db}"
    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return url


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {loadavg()}"


@dataclass
class Stack:
    """A running hub: API URL, its settings (as env values) and the processes."""

    url: str
    settings: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None

    def start_worker(self, max_jobs: int = 20) -> subprocess.Popen[bytes]:
        with log_file(f"bench-worker-{len(self.procs)}") as err:
            proc = subprocess.Popen(zhongshu("worker", "--max-jobs", str(max_jobs)), env=hub_env(**self.settings),
                                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)  # fmt: skip
        self.worker = proc
        self.procs.append(proc)
        return proc

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]


def hub_settings(database_url: str, redis_url: str | None = None, **extra: str) -> dict[str, str]:
    settings = {
        "database_url": database_url,
        "secret_key": Fernet.generate_key().decode(),
        "log_level": "WARNING",
        # the bench drives one source far above a real shop's webhook rate: lift the per-source limit
        "inbound_rate_per_second": "1000000",
        "inbound_burst": "1000000",
        "reconcile_interval_seconds": "3600",
        "poll_interval_seconds": "3600",
    }
    if redis_url:
        settings["redis_url"] = redis_url
    settings.update(extra)
    return settings


@contextmanager
def hub_stack(
    settings: dict[str, str], *, api_workers: int = 1, workers: int = 0, max_jobs: int = 20
) -> Iterator[Stack]:
    """``zhongshu serve --workers N`` (+ ``workers`` × ``zhongshu worker``) as subprocesses."""
    port = free_port()
    with log_file(f"bench-serve-{port}") as err:
        api = subprocess.Popen(zhongshu("serve", "--port", str(port), "--workers", str(api_workers)),
                               env=hub_env(**settings), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                               start_new_session=True)  # fmt: skip
    stack = Stack(f"http://127.0.0.1:{port}", settings, [api])
    try:
        wait_healthy(stack.url, api, timeout=90)
        for _ in range(workers):
            stack.start_worker(max_jobs)
        time.sleep(1.0 if workers else 0)
        yield stack
    finally:
        for proc in reversed(stack.procs):
            stop(proc)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


class CpuSampler:
    """CPU seconds each part of the machine spent between :meth:`start` and :meth:`stop` (every process,
    grouped by what it is: hub API, hub workers, sandboxes, PostgreSQL, Redis, the load driver)."""

    PARTS = (("hub.cli worker", "hub workers"), ("spawn_main", "hub API"), ("hub.cli serve", "hub API"),
             ("sandbox_server", "sandboxes"), ("postgres", "PostgreSQL"), ("redis-server", "Redis"),
             ("bench.", "load driver"))  # fmt: skip

    def __init__(self) -> None:
        self._before: dict[int, tuple[float, str]] = {}

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> dict[str, float]:
        after, parts = self._snapshot(), {}
        for pid, (cpu, part) in after.items():
            spent = cpu - self._before.get(pid, (0.0, part))[0]
            if spent > 0:
                parts[part] = parts.get(part, 0.0) + spent
        return parts

    @classmethod
    def _snapshot(cls) -> dict[int, tuple[float, str]]:
        import psutil

        out = {}
        for proc in psutil.process_iter(["cmdline", "name"]):
            try:
                cmd = " ".join(proc.info["cmdline"] or [proc.info["name"] or ""])
                times = proc.cpu_times()
            except (psutil.Error, OSError):
                continue
            part = next((label for needle, label in cls.PARTS if needle in cmd), "other")
            out[proc.pid] = (times.user + times.system, part)
        return out


async def pool_that_fits(wanted: int, processes: int, *, overflow: int = 10, spare: int = 10) -> int:
    """The largest pool size up to ``wanted`` with which ``processes`` hub processes (each pool + ``overflow``)
    and ``spare`` other connections stay within the server's ``max_connections``: past it PostgreSQL refuses
    new connections, and under load every pool grows to its ceiling."""
    limit = int(await _admin_value("SHOW max_connections"))
    return max(1, min(wanted, (limit - spare) // max(1, processes) - overflow))


async def pg_transactions(database_url: str) -> int:
    """Transactions committed or rolled back so far in the database ``database_url`` names."""
    name = database_url.rsplit("/", 1)[1]
    sql = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1"
    return int(await _admin_value(sql, name) or 0)


async def _admin_value(sql: str, *args: Any) -> Any:
    """One value read on the server's admin database (statistics and settings of the whole server)."""
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
