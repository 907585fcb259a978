"""Ledger throughput over HTTP: movements/s applied, one per request and batched, on PostgreSQL and SQLite.

    python -m bench.ledger [--seconds 10] [--concurrency 32] [--pg-workers 2]

Starts ``zhongshu serve`` in its own processes against a scratch database, drives it from this process
with httpx, and prints a table. Figures go in the README; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid

import asyncpg
import httpx

from tests.support.processes import serving

PG_ADMIN = os.environ.get("ZHONGSHU_TEST_PG", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")


async def drive(url: str, *, seconds: float, concurrency: int, batch: int,
                headers: dict[str, str]) -> tuple[float, list[float], int]:  # fmt: skip
    sku_pool = [f"B-{uuid.uuid4().hex[:8]}" for _ in range(200)]
    latencies: list[float] = []
    applied = 0
    stop_at = time.perf_counter() + seconds
    counter = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal applied, counter
        while time.perf_counter() < stop_at:
            counter += 1
            n = counter
            moves = [{"key": f"{uuid.uuid4().hex}", "sku": sku_pool[(n + i) % len(sku_pool)], "qty": 1,
                      "from": "supplier", "to": "WH/free", "kind": "receive"} for i in range(batch)]  # fmt: skip
            t0 = time.perf_counter()
            r = await client.post("/api/v1/movements", json={"movements": moves})
            latencies.append(time.perf_counter() - t0)
            if r.status_code == 201:
                applied += batch

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, headers=headers) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return applied / elapsed, latencies, applied


async def fresh_pg(name: str) -> str:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000 if len(values) > 2 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--pg-workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    pg_url = asyncio.run(fresh_pg("zhongshu_bench_ledger"))
    sqlite_url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    for label, url, workers in (("PostgreSQL", pg_url, args.pg_workers), ("SQLite", sqlite_url, 1)):
        from hub.settings import Settings
        from hub.storage.migrate import upgrade
        from tests.support.auth import bearer, token_for

        settings = Settings(database_url=url)
        asyncio.run(upgrade(settings))
        headers = bearer(token_for(settings, "operator"))
        with serving(workers=workers, database_url=url, log_level="WARNING") as hub_url:
            for batch in (1, 100):
                rate, lat, applied = asyncio.run(drive(hub_url, seconds=args.seconds, concurrency=args.concurrency,
                                                       batch=batch, headers=headers))  # fmt: skip
                rows.append((label, workers, batch, rate, pct(lat, 50), pct(lat, 99), applied))
    print(f"\nledger throughput, {args.seconds:.0f} s per row, {args.concurrency} concurrent clients, {os.cpu_count()} cores")
    print(f"{'database':<11} {'API procs':>9} {'per request':>11} {'movements/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'applied':>9}")
    for label, workers, batch, rate, p50, p99, applied in rows:
        print(f"{label:<11} {workers:>9} {batch:>11} {rate:>12,.0f} {p50:>8.1f} {p99:>8.1f} {applied:>9,}")


if __name__ == "__main__":
    main()
