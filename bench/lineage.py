"""Lineage of a figure with 1,000,000 movements in the ledger, on PostgreSQL: p50/p99 server time.

    python -m bench.lineage [--movements 1000000] [--queries 300] [--quick]

Bulk-loads (COPY) a ledger shaped like the hub's own: per sku a chain of raw event → movement → view value
(parents: the movement and the view definition) → push, ``--movements`` movements over ``--skus`` skus,
with lineage nodes and edges for each. Then asks for the lineage of random view values, pushes and
movements two ways:

* server time: :func:`hub.lineage.walk` — the exact code behind ``GET /api/v1/lineage/{node}`` — timed
  inside this process against the same database (the hub adds no Server-Timing header);
* round trip: ``GET /api/v1/lineage/{node}`` on ``zhongshu serve`` over loopback (includes JSON and HTTP).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from datetime import UTC, datetime

import asyncpg
import httpx

from bench.stack import fresh_pg, hub_settings, hub_stack, machine, pct
from hub.lineage import walk
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.migrate import upgrade
from tests.support.auth import bearer, token_for

VIEW_DEF = "view_definition:erp.available@1"


async def load(dsn: str, movements: int, skus: int) -> float:
    start = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("INSERT INTO lineage_nodes (id, kind, label, data, created_at)"
                           " VALUES ($1, 'view_definition', 'erp.available v1', '{}', $2)", VIEW_DEF, now)  # fmt: skip
        chunk = 100_000
        for base in range(1, movements + 1, chunk):
            ids = range(base, min(movements + 1, base + chunk))
            mov = [(i, f"bench:{i}", "receive", f"L-{i % skus:06d}", 1, "supplier", "WH/free", f"b{i // 100}", now)
                   for i in ids]  # fmt: skip
            await conn.copy_records_to_table("movements", records=mov, columns=[
                "id", "key", "kind", "sku", "qty", "from_account", "to_account", "batch", "created_at"])  # fmt: skip
            nodes, edges = [], []
            for i in ids:
                sku = f"L-{i % skus:06d}"
                nodes += [(f"raw:{i}", "raw_event", f"wms stockchange {i}", "{}", now),
                          (f"movement:{i}", "movement", f"receive 1 {sku}", json.dumps({"key": f"bench:{i}"}), now),
                          (f"view:{i}", "view_value", f"erp.available@{sku}", "{}", now),
                          (f"push:{i}", "push", f"ok: shop {sku}", "{}", now)]  # fmt: skip
                edges += [(f"movement:{i}", f"raw:{i}"), (f"view:{i}", f"movement:{i}"), (f"view:{i}", VIEW_DEF),
                          (f"push:{i}", f"movement:{i}")]  # fmt: skip
                if i > skus:  # the previous movement of the same sku fed this view too (running balance)
                    edges.append((f"view:{i}", f"movement:{i - skus}"))
            await conn.copy_records_to_table("lineage_nodes", records=nodes,
                                             columns=["id", "kind", "label", "data", "created_at"])  # fmt: skip
            await conn.copy_records_to_table("lineage_edges", records=edges, columns=["child", "parent"])
        await conn.execute("SELECT setval(pg_get_serial_sequence('movements', 'id'), $1)", movements)
        await conn.execute("ANALYZE movements; ANALYZE lineage_nodes; ANALYZE lineage_edges")
    finally:
        await conn.close()
    return time.perf_counter() - start


async def in_process(url: str, nodes: list[str]) -> tuple[list[float], int]:
    engine = make_engine(Settings(database_url=url))
    sessions = make_sessionmaker(engine)
    times, sizes = [], 0
    try:
        for node in nodes[:20]:  # warm the pool and the plan cache
            async with sessions() as s:
                await walk(s, node)
        for node in nodes:
            t0 = time.perf_counter()
            async with sessions() as s:
                result = await walk(s, node)
            times.append((time.perf_counter() - t0) * 1000)
            sizes += len(result["upstream"]) + len(result["downstream"])
    finally:
        await engine.dispose()
    return times, sizes // max(1, len(nodes))


async def over_http(base: str, auth: dict[str, str], nodes: list[str]) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=30) as http:
        for node in nodes[:20]:
            (await http.get(f"/api/v1/lineage/{node}")).raise_for_status()
        for node in nodes:
            t0 = time.perf_counter()
            r = await http.get(f"/api/v1/lineage/{node}")
            times.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--movements", type=int, default=1_000_000)
    ap.add_argument("--skus", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=300, help="lineage requests per node kind")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20,000 movements, 50 queries")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the hub on the way out
    if args.quick:
        args.movements, args.skus, args.queries = 20_000, 1_000, 50
    print(f"lineage: {args.movements:,} movements over {args.skus:,} skus on PostgreSQL; {machine()}", flush=True)
    url = asyncio.run(fresh_pg("zhongshu_bench_lineage"))
    asyncio.run(upgrade(Settings(database_url=url)))
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    took = asyncio.run(load(dsn, args.movements, args.skus))
    print(
        f"  loaded {args.movements:,} movements and {4 * args.movements + 1:,} lineage nodes in {took:.0f} s",
        flush=True,
    )
    rng = random.Random(1)
    settings = hub_settings(url)
    rows = []
    with hub_stack(settings, api_workers=1) as stack:
        auth = bearer(token_for(Settings(database_url=url)))
        for kind in ("view", "push", "movement"):
            nodes = [f"{kind}:{rng.randint(1, args.movements)}" for _ in range(args.queries)]
            server, size = asyncio.run(in_process(url, nodes))
            http = asyncio.run(over_http(stack.url, auth, nodes))
            rows.append((kind, size, server, http))
    print(
        f"  {'node':<9} {'nodes/walk':>10} {'server p50':>10} {'server p99':>10} {'server max':>10}"
        f" {'HTTP p50':>9} {'HTTP p99':>9}   (ms)"
    )
    for kind, size, server, http in rows:
        print(
            f"  {kind:<9} {size:>10} {pct(server, 50):>10.1f} {pct(server, 99):>10.1f} {max(server):>10.1f}"
            f" {pct(http, 50):>9.1f} {pct(http, 99):>9.1f}"
        )
    print(f"  bar: p99 < 100 ms server time; {machine()}")


if __name__ == "__main__":
    main()
