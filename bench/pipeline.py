"""From inbox to ledger: observations/s and view recompute latency, production and embedded.

    python -m bench.pipeline [--seconds 15] [--concurrency 32] [--skus 500] [--quick]

Raw events in each platform's own format (the shapes in ``mappings/fixtures``: Qimen WMS
``inventory.query`` on_hand → arbitration → adjust movements; Meituan ``retail.sku.stock`` with pending
outbound; Douyin ``sku.stockNum`` sellable incl. presale lock) are posted to
``POST /api/v1/sources/{source}/events`` by ``--concurrency`` clients for ``--seconds``; then the bench waits
until every event is processed.

* observations/s = observations stored / (first post → last event processed);
* view recompute latency = ``raw_events.processed_at - received_at`` per event: the pipeline maps, arbitrates,
  writes the ledger and recomputes the affected views in one transaction, so this is the time from the
  event being accepted until its views hold the new value (queueing included).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import signal
import sys
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.stack import fresh_pg, fresh_redis, fresh_sqlite, hub_settings, hub_stack, loadavg, machine, pct
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.models import MovementRow, ObservationRow, RawEvent, ViewValue
from tests.support.auth import bearer, token_for

REDIS_DB = 6


def wms_change(sku: str, n: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    """The WMS's on_hand (authority) for one sku: arbitration settles it into an adjust movement."""
    item = {"warehouseCode": "WH", "itemCode": sku, "itemId": f"WMS-{sku}", "inventoryType": "ZP",
            "quantity": rng.randint(100, 300), "lockQuantity": rng.randint(0, 5)}  # fmt: skip
    return "wms", "inventory.query", {"flag": "success", "code": "0", "items": [item]}


def meituan_stock(sku: str, n: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    food = [
        {"app_food_code": sku, "sku_id": sku, "stock": rng.randint(50, 200), "pending_outbound": rng.randint(0, 20)}
    ]
    return "meituan", "retail.sku.stock", {"app_id": "6000", "app_poi_code": "WH", "timestamp": 1777600790 + n,
                                           "food_data": json.dumps(food)}  # fmt: skip


def douyin_stock(sku: str, n: int, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    data = {"id": 1730000000000000001 + n, "product_id": 3600000000000000001, "code": sku,
            "stock_num": rng.randint(50, 200), "prehold_stock_num": rng.randint(0, 10), "price": 9900,
            "spec_detail_name1": "默认", "out_sku_id": 0}  # fmt: skip
    return "douyin", "sku.stockNum", {"code": 10000, "msg": "success", "log_id": f"{n}", "sub_code": "", "sub_msg": "",
                                      "data": data}  # fmt: skip


KINDS = (wms_change, meituan_stock, douyin_stock)


async def drive(
    url: str, auth: dict[str, str], *, seconds: float, concurrency: int, skus: list[str]
) -> tuple[int, int, float]:
    rng = random.Random(3)
    counter = itertools.count()
    sent = errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent, errors
        while time.perf_counter() < stop_at:
            n = next(counter)
            source, topic, payload = KINDS[n % len(KINDS)](rng.choice(skus), n, rng)
            r = await http.post(f"/api/v1/sources/{source}/events", content=json.dumps(payload).encode(),
                                headers={"x-zhongshu-topic": topic, "x-zhongshu-event-id": f"bench-{n}",
                                         "content-type": "application/json"})  # fmt: skip
            sent += 1
            errors += r.status_code != 202

    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=60,
                                 limits=httpx.Limits(max_connections=concurrency)) as http:  # fmt: skip
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return sent, errors, start


async def settle(database_url: str, sent: int, timeout: float) -> dict[str, Any]:
    engine = make_engine(Settings(database_url=database_url))
    sessions = make_sessionmaker(engine)
    deadline = time.perf_counter() + timeout
    try:
        while time.perf_counter() < deadline:
            async with sessions() as s:
                pending = await s.scalar(select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending"))
            if not pending:
                break
            await asyncio.sleep(0.2)
        async with sessions() as s:
            rows = (await s.execute(select(RawEvent.received_at, RawEvent.processed_at, RawEvent.status)
                                    .where(RawEvent.platform_event_id.like("bench-%")))).all()  # fmt: skip
            observations = await s.scalar(select(func.count()).select_from(ObservationRow))
            movements = await s.scalar(select(func.count()).select_from(MovementRow))
            views = await s.scalar(select(func.count()).select_from(ViewValue))
    finally:
        await engine.dispose()
    done = [r for r in rows if r.processed_at is not None]
    first = min((r.received_at for r in rows), default=None)
    last = max((r.processed_at for r in done), default=None)
    span = (last - first).total_seconds() if first and last else float("nan")
    lat = [(r.processed_at - r.received_at).total_seconds() * 1000 for r in done]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {"events": len(rows), "span": span, "observations": observations, "movements": movements, "views": views,
            "lat": lat, "statuses": statuses}  # fmt: skip


def run_mode(mode: str, args: argparse.Namespace) -> tuple[Any, ...]:
    if mode == "production":
        db = asyncio.run(fresh_pg("zhongshu_bench_pipeline"))
        settings = hub_settings(db, asyncio.run(fresh_redis(REDIS_DB)))
        api, workers = args.api_workers, args.workers
    else:
        db, api, workers = fresh_sqlite(), 1, 0
        settings = hub_settings(db)
    skus = [f"P-{n:05d}" for n in range(args.skus)]
    with hub_stack(settings, api_workers=api, workers=workers) as stack:
        auth = bearer(token_for(Settings(database_url=db)))
        load0 = loadavg()
        sent, errors, _ = asyncio.run(
            drive(stack.url, auth, seconds=args.seconds, concurrency=args.concurrency, skus=skus)
        )
        res = asyncio.run(settle(db, sent, timeout=args.drain_timeout))
        load = f"{load0} → {loadavg()}"
    return mode, sent, errors, res, load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--skus", type=int, default=500)
    ap.add_argument("--modes", nargs="+", default=["production", "embedded"], choices=["production", "embedded"])
    ap.add_argument("--api-workers", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--drain-timeout", type=float, default=600)
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 s, 8 clients")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the hub on the way out
    if args.quick:
        args.seconds, args.concurrency, args.skus = 3, 8, 50
    print(
        f"pipeline: raw events (WMS inventory.query, Meituan stock, Douyin stockNum) inbox → ledger + views;"
        f" {args.concurrency} clients for {args.seconds:.0f} s; {machine()}",
        flush=True,
    )
    rows = [run_mode(mode, args) for mode in args.modes]
    print(
        f"  {'mode':<10} {'events':>7} {'posted/s':>8} {'obs':>7} {'obs/s':>7} {'events/s':>8} {'movements':>9}"
        f" {'views':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  statuses; load"
    )
    for mode, sent, errors, r, load in rows:
        span = r["span"]
        print(
            f"  {mode:<10} {r['events']:>7} {sent / args.seconds:>8.0f} {r['observations']:>7}"
            f" {r['observations'] / span:>7.0f}"
            f" {r['events'] / span:>8.0f} {r['movements']:>9} {r['views']:>7} {pct(r['lat'], 50):>8.0f}"
            f" {pct(r['lat'], 99):>8.0f} {errors:>6}  {r['statuses']}; load {load}"
        )


if __name__ == "__main__":
    main()
