"""What one database statement costs the hub's Python, by the way it is issued (CPU time, not wall time).

    python -m bench.statement_cost            # PostgreSQL (a scratch database), 500 statements per way

Why the hot paths (ledger, reservations, jobs, lineage, observations, views, pushes) issue prebuilt Core
statements on the session's connection (:mod:`hub.storage.sql`) and send rows as one executemany: the
ORM's per-statement machinery costs several times what the database itself does for a primary-key read.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bench.stack import fresh_pg
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.migrate import upgrade
from hub.storage.models import Balance, LineageNode


async def _cpu_us(n: int, call: Callable[[int], Awaitable[Any]]) -> float:
    start = time.process_time()
    for i in range(n):
        await call(i)
    return (time.process_time() - start) / n * 1e6


async def main(n: int) -> None:
    url = await fresh_pg("zhongshu_bench_statements")
    settings = Settings(database_url=url)
    await upgrade(settings)
    engine = make_engine(settings)
    b, ln = Balance.__table__, LineageNode.__table__
    now = datetime.now(UTC)
    rows: list[tuple[str, float]] = []
    async with make_sessionmaker(engine)() as s, s.begin():
        s.add(Balance(sku="S", account="W/free", qty=1, version=1, updated_at=now))
        await s.flush()
        conn = await s.connection()
        prebuilt = select(b.c.qty).where(b.c.sku == bindparam("s"), b.c.account == bindparam("a"))
        raw = (await conn.get_raw_connection()).driver_connection
        ways: list[tuple[str, Callable[[int], Awaitable[Any]]]] = [
            ("ORM session.execute(select(Model.col))",
             lambda i: s.execute(select(Balance.qty).where(Balance.sku == "S", Balance.account == "W/free"))),
            ("ORM session.get (populate_existing)",
             lambda i: s.get(Balance, ("S", "W/free"), populate_existing=True)),
            ("Core, statement built per call", lambda i: conn.execute(
                select(b.c.qty).where(b.c.sku == "S", b.c.account == "W/free"))),
            ("Core, prebuilt statement + bind parameters", lambda i: conn.execute(prebuilt, {"s": "S", "a": "W/free"})),
            ("asyncpg directly", lambda i: raw.fetch("SELECT qty FROM balances WHERE sku=$1 AND account=$2", "S", "W/free")),
        ]  # fmt: skip
        for label, call in ways:
            rows.append((label, await _cpu_us(n, call)))
        for size in (1, 10, 50):
            batch = [[{"id": f"b:{i}:{j}:{size}", "kind": "k", "label": "", "data": {}, "created_at": now}
                      for j in range(size)] for i in range(n // 10)]  # fmt: skip
            stmt = pg_insert(ln).on_conflict_do_nothing()
            per_call = await _cpu_us(len(batch), lambda i, stmt=stmt, batch=batch: conn.execute(stmt, batch[i]))
            rows.append((f"Core executemany of {size} rows (per row)", per_call / size))
        await s.rollback()
    await engine.dispose()
    print(f"{'way':<48} {'µs of CPU':>10}")
    for label, us in rows:
        print(f"{label:<48} {us:>10.0f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=500, help="statements per way")
    asyncio.run(main(ap.parse_args().n))
