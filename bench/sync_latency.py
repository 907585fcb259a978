"""Webhook accepted → push received by every other channel: latency per event, production and embedded.

    python -m bench.sync_latency                       # 100, 500, 1000 events/s, 20 s each, both modes
    python -m bench.sync_latency --quick               # smoke run: 50 events/s for 5 s, 2 shops x 40 skus
    python -m bench.sync_latency --rates 500 --duration 30 --modes production

Production mode: a fresh PostgreSQL database, ``zhongshu serve --workers 2`` and one ``zhongshu worker``
on a dedicated Redis db index (/5); embedded mode: SQLite and in-process jobs (``serve --workers 1``).
Marketplace sandboxes (Shopify and Douyin, half the shops each) run as their own processes, all on
loopback. Every shop lists every sku. Orders (and some cancellations) are made in the sandboxes at a fixed
rate; each sandbox sends its signed push to the hub, as the platform would.

Per event: start = the hub accepting the webhook (``raw_events.received_at`` of the platform's push);
end = the last of the *other* shops receiving the push that carries the change (arrival time in the
sandbox's own request log). The origin shop needs no push: it already shows its own sale, and the hub
knows (``listing_state.expected``). A push "carries" the event when it read its target after the event's
effect was committed (``pushes.started_at`` ≥ the event's ``processed_at``), which is how coalescing works.

After each run: every sandbox must hold exactly the sellable figure its rule gives from the ledger
(``GET /api/v1/listings`` target vs sandbox stock); mismatches are printed (must be 0).
Sandboxes run with their rate limits lifted, so what is measured is the hub, not a platform's throttle.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bench.stack import (CpuSampler, Stack, fresh_pg, fresh_redis, fresh_sqlite, hub_settings, hub_stack, loadavg,
                         machine, pct, pg_transactions, pool_that_fits)
from connectors.base import async_client
from connectors.shopify.sandbox import WEBHOOK_RETRY_DELAYS
from connectors.testing.sandbox_server import run_sandbox_process
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.models import Job, RawEvent
from hub.storage.models_sync import Push
from tests.support.auth import bearer, token_for

KEY, SECRET, TOKEN = "bench-app-key", "bench-app-secret", "bench-access-token"
REDIS_DB = 5
WRITE_PATHS = {"shopify": "graphql.json", "douyin": "/sku/syncStock"}
_IDS = re.compile(r"\d{5,}")
# the platforms retry an unanswered webhook (Shopify 8 times over 4 h, Douyin likewise): the sandboxes do the same on
# a schedule of seconds (1 s, 2 s, ... 128 s), and a run is judged only after their last retry
PLATFORM_RETRY_DELAYS = list(WEBHOOK_RETRY_DELAYS)


@dataclass
class Shop:
    name: str
    platform: str
    url: str
    ids: dict[str, str] = field(default_factory=dict)  # platform id -> sku
    http: httpx.AsyncClient | None = None
    orders: list[tuple[str, str]] = field(default_factory=list)  # (order id, sku) open orders made here


@dataclass
class Sent:
    shop: str
    sku: str
    kind: str
    at: float
    event_ids: list[str]
    status: int | str


@dataclass
class Result:
    mode: str
    rate: float
    sent: int
    duration: float
    latencies: list[float]
    first_channel: list[float]
    pushes: int
    no_push: int
    errors: dict[str, int | str]
    mismatches: int
    drained_after: float
    load: str
    hops: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    transactions: int | None = None


# -- the stack ------------------------------------------------------------------------------------
@contextmanager
def sandboxes(hub_url: str, shops: int, skus: list[str], stock: dict[str, int]) -> Iterator[list[Shop]]:
    with ExitStack() as stack:
        out = []
        for n in range(shops):
            platform = "shopify" if n % 2 == 0 else "douyin"
            name = f"{platform}{n}"
            hook = f"{hub_url}/webhooks/{name}"
            if platform == "shopify":
                kwargs: dict[str, Any] = {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN, "hub_url": hook,
                                          "skus": {s: stock[s] for s in skus}, "rest_bucket": 1_000_000,
                                          "rest_leak": 1e6, "graphql_max": 1e12, "graphql_restore": 1e12,
                                          "webhook_retry_delays": PLATFORM_RETRY_DELAYS}  # fmt: skip
                with _quiet_stderr():
                    url = stack.enter_context(run_sandbox_process("connectors.shopify.sandbox:create_app", kwargs))
            else:
                kwargs = {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN, "hub_url": hook,
                          "catalog": {s: stock[s] for s in skus}, "rate_limit_per_second": 1e9,
                          "rate_limit_burst": 1e9, "push_retry_delays": PLATFORM_RETRY_DELAYS}  # fmt: skip
                with _quiet_stderr():
                    url = stack.enter_context(run_sandbox_process("connectors.douyin.sandbox:create_app", kwargs))
            out.append(Shop(name, platform, url))
        yield out


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Children started inside inherit /dev/null as stderr (sandboxes log every delivery at INFO)."""
    import os

    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(null)
        os.close(saved)


async def register(stack: Stack, shops: list[Shop], skus: list[str], stock: dict[str, int]) -> dict[str, str]:
    auth = bearer(token_for(Settings(database_url=stack.settings["database_url"])))
    async with httpx.AsyncClient(base_url=stack.url, headers=auth, timeout=120) as hub:
        for shop in shops:
            async with httpx.AsyncClient(base_url=shop.url, timeout=60) as sb:
                rows = (await sb.get("/_sandbox/stock")).json()["stock"]
            listings: dict[str, dict[str, Any]] = {}
            for sku in skus:
                if shop.platform == "shopify":
                    listings[sku] = {
                        "inventory_item_id": rows[sku]["inventory_item_id"],
                        "location_id": rows[sku]["location_id"],
                    }
                    shop.ids[str(rows[sku]["inventory_item_id"])] = sku
                else:
                    listings[sku] = {"sku_id": rows[sku]["sku_id"]}
                    shop.ids[str(rows[sku]["sku_id"])] = sku
            # the connector's own token bucket follows the platform's plan (Shopify Standard REST: 2/s): lifted,
            # like the sandboxes' limits, so the hub is measured and not a plan's throttle
            settings: dict[str, Any] = {"poll": False, "rate_limit_per_second": 1e6, "rate_limit_burst": 1e6}
            if shop.platform == "shopify":
                settings["shop_domain"] = "zhongshu-sandbox.myshopify.com"
            r = await hub.post("/api/v1/sources", json={"name": shop.name, "platform": shop.platform,
                                                        "base_url": shop.url, "default_location": "WH",
                                                        "listings": listings, "settings": settings})  # fmt: skip
            r.raise_for_status()
            r = await hub.put(
                f"/api/v1/sources/{shop.name}/credentials",
                json={"credentials": {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN}},
            )
            r.raise_for_status()
        # the warehouse receives the opening stock: the hub pushes it to every shop (warm-up, not measured)
        for chunk in range(0, len(skus), 100):
            moves = [{"key": f"open:{s}", "sku": s, "qty": stock[s], "from": "supplier", "to": "WH/free",
                      "kind": "receive"} for s in skus[chunk:chunk + 100]]  # fmt: skip
            (await hub.post("/api/v1/movements", json={"movements": moves})).raise_for_status()
    return auth


async def drained(database_url: str, *, timeout: float, quiet_for: float = 1.0) -> float:
    """Seconds until no job is pending or running (for ``quiet_for`` s in a row)."""
    engine = make_engine(Settings(database_url=database_url))
    sessions = make_sessionmaker(engine)
    start = time.perf_counter()
    quiet_since: float | None = None
    try:
        while time.perf_counter() - start < timeout:
            try:
                async with sessions() as s:
                    busy = await s.scalar(select(Job.id).where(Job.state.in_(("pending", "running"))).limit(1))
            except DBAPIError:  # the server refused a connection under load: ask again, the hub is busy anyway
                busy = -1
            now = time.perf_counter()
            if busy is None:
                quiet_since = quiet_since or now
                if now - quiet_since >= quiet_for:
                    return quiet_since - start
            else:
                quiet_since = None
            await asyncio.sleep(0.1)
        return float("inf")
    finally:
        await engine.dispose()


# -- load ----------------------------------------------------------------------------------------
async def drive(shops: list[Shop], skus: list[str], hot: list[str], *, rate: float, duration: float,
                cancel_share: float, seed: int, max_in_flight: int = 512) -> tuple[list[Sent], float]:  # fmt: skip
    """Open loop: event i is made at start + i/rate whatever happened to the earlier ones."""
    rng = random.Random(seed)
    total = int(rate * duration)
    sent: list[Sent] = []
    gate = asyncio.Semaphore(max_in_flight)
    for shop in shops:
        shop.http = async_client(base_url=shop.url, timeout=30,
                                 limits=httpx.Limits(max_connections=max_in_flight // len(shops) + 8))

    async def one(shop: Shop, body: dict[str, Any], sku: str, kind: str) -> None:
        async with gate:
            at = time.time()
            assert shop.http is not None
            try:
                r = await shop.http.post("/_sandbox/events", json=body)
                data = r.json() if r.status_code < 300 else {}
            except httpx.HTTPError as exc:
                sent.append(Sent(shop.name, sku, kind, at, [], type(exc).__name__))
                return
            if r.status_code >= 300:
                sent.append(Sent(shop.name, sku, kind, at, [], r.status_code))
                return
            if shop.platform == "shopify":
                ids = [p["event_id"] for p in data.get("pushes", []) if p["topic"].startswith("orders/")]
                bad = [p["status"] for p in data.get("pushes", []) if p["status"] != 200]
                order_id = str(data.get("record_id"))
            else:
                ids, bad, order_id = [str(m) for m in data.get("msg_ids", [])], [], str(data.get("order_id"))
            if kind == "order":
                shop.orders.append((order_id, sku))
            sent.append(Sent(shop.name, sku, kind, at, ids, bad[0] if bad else 200))

    tasks = []
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        shop = shops[rng.randrange(len(shops))]
        if shop.orders and rng.random() < cancel_share:
            order_id, sku = shop.orders.pop(rng.randrange(len(shop.orders)))
            body: dict[str, Any] = {
                "type": "cancel",
                "order_id": int(order_id) if shop.platform == "shopify" else order_id,
            }
            kind = "cancel"
        else:
            sku = rng.choice(hot) if rng.random() < 0.3 else rng.choice(skus)
            body = {"type": "order", "sku": sku, "quantity": 1, "qty": 1}
            kind = "order"
        tasks.append(asyncio.create_task(one(shop, body, sku, kind)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for shop in shops:
        assert shop.http is not None
        await shop.http.aclose()
    return sent, elapsed


# -- measuring -----------------------------------------------------------------------------------
async def sandbox_writes(shops: list[Shop], since: dict[str, int]) -> dict[tuple[str, str], list[float]]:
    """(shop, sku) -> arrival times of stock writes, from each sandbox's own request log."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    async with httpx.AsyncClient(timeout=120) as http:
        for shop in shops:
            log = (await http.get(f"{shop.url}/_sandbox/log", params={"since": since.get(shop.name, 0)})).json()
            for entry in log["requests"]:
                if not entry["path"].endswith(WRITE_PATHS[shop.platform]):
                    continue
                text = entry["body"] + " " + entry.get("query", "")
                sku = next((shop.ids[m] for m in _IDS.findall(text) if m in shop.ids), None)
                if sku is not None:
                    out[(shop.name, sku)].append(float(entry["at"]))
    for times in out.values():
        times.sort()
    return out


async def _push_records(http: httpx.AsyncClient, shop: Shop) -> list[tuple[dict[str, Any], bool]]:
    """Every webhook ``shop``'s sandbox has sent, each with whether it was answered 2xx."""
    if shop.platform == "shopify":  # the log's pushes, without its requests
        records = (await http.get(f"{shop.url}/_sandbox/log", params={"since": 1 << 60})).json()["pushes"]
        return [(r, isinstance(r["status"], int) and 200 <= r["status"] < 300) for r in records]
    return [(r, bool(r["delivered"])) for r in (await http.get(f"{shop.url}/_sandbox/pushes")).json()["pushes"]]


async def push_marks(shops: list[Shop]) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=120) as http:
        return {shop.name: len(await _push_records(http, shop)) for shop in shops}


async def platform_retries(shops: list[Shop], since: dict[str, int], *, timeout: float) -> tuple[int, int]:
    """Wait until every webhook the sandboxes sent after ``since`` is answered or out of retries; returns
    (delivered only on a retry, never delivered)."""
    deadline = time.perf_counter() + timeout
    async with httpx.AsyncClient(timeout=120) as http:
        while True:
            retried = lost = pending = 0
            for shop in shops:
                for record, ok in (await _push_records(http, shop))[since[shop.name]:]:
                    retried += ok and record["attempts"] > 1
                    exhausted = record["attempts"] > len(PLATFORM_RETRY_DELAYS)
                    lost += not ok and exhausted
                    pending += not ok and not exhausted
            if not pending or time.perf_counter() > deadline:
                return retried, lost + pending
            await asyncio.sleep(1.0)


async def log_marks(shops: list[Shop]) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=120) as http:
        marks = {}
        for shop in shops:
            entries = (await http.get(f"{shop.url}/_sandbox/log")).json()["requests"]
            marks[shop.name] = entries[-1]["seq"] if entries else 0
        return marks


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


HOPS = ("accepted → settled", "settled → push sent", "push sent → shop received")


async def measure(database_url: str, shops: list[Shop], sent: list[Sent], since: dict[str, int],
                  t0: float) -> tuple[list[float], list[float], int, int, dict[str, list[float]]]:  # fmt: skip
    engine = make_engine(Settings(database_url=database_url))
    try:
        async with make_sessionmaker(engine)() as s:
            since_dt = datetime.fromtimestamp(t0 - 1).astimezone()
            raws = (await s.execute(select(RawEvent.source, RawEvent.platform_event_id, RawEvent.received_at,
                                           RawEvent.processed_at).where(RawEvent.received_at >= since_dt)))  # fmt: skip
            by_event: dict[tuple[str, str], tuple[float, float | None]] = {}
            for source, event_id, received, processed in raws.all():
                by_event[(source, event_id)] = (received.timestamp(), _ts(processed))
            pushes = (await s.execute(select(Push.source, Push.sku, Push.started_at, Push.finished_at)
                                      .where(Push.status == "ok", Push.started_at >= since_dt)
                                      .order_by(Push.started_at))).all()  # fmt: skip
    finally:
        await engine.dispose()
    by_listing: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for source, sku, started, finished in pushes:
        by_listing[(source, sku)].append((started.timestamp(), (finished or started).timestamp()))
    writes = await sandbox_writes(shops, since)
    names = [s.name for s in shops]
    latencies, first, no_push = [], [], 0
    hops: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for ev in sent:
        if ev.status != 200 or not ev.event_ids:
            continue
        accepted, effect = None, None
        for event_id in ev.event_ids:
            for key in ((ev.shop, event_id), (ev.shop, f"{event_id}:detail")):
                if key in by_event:
                    rec, proc = by_event[key]
                    accepted = rec if accepted is None else min(accepted, rec)
                    if proc is not None:
                        effect = proc if effect is None else max(effect, proc)
        if accepted is None or effect is None:
            continue
        arrivals: list[tuple[float, float]] = []  # (arrival at the shop, the push's start)
        for other in names:
            if other == ev.shop:
                continue
            push = next(((a, b) for a, b in by_listing.get((other, ev.sku), []) if a >= effect), None)
            if push is None:
                continue
            hits = [t for t in writes.get((other, ev.sku), []) if push[0] - 0.005 <= t <= push[1] + 0.005]
            if hits:
                arrivals.append((hits[-1], push[0]))
        if not arrivals:
            no_push += 1
            continue
        last, pushed = max(arrivals)
        latencies.append((last - accepted) * 1000)
        first.append((min(arrivals)[0] - accepted) * 1000)
        spans = ((effect - accepted) * 1000, (pushed - effect) * 1000, (last - pushed) * 1000)
        for hop, ms in zip(HOPS, spans, strict=True):
            hops[hop].append(ms)
    return latencies, first, len(pushes), no_push, hops


async def verify(stack: Stack, auth: dict[str, str], shops: list[Shop]) -> list[str]:
    """Every listing: the sandbox's figure equals the target its rule gives from the ledger."""
    async with httpx.AsyncClient(base_url=stack.url, headers=auth, timeout=300) as hub:
        listings = (await hub.get("/api/v1/listings")).json()
    targets = {(row["source"], row["sku"]): row["target"] for row in listings}
    wrong = []
    async with httpx.AsyncClient(timeout=60) as http:
        for shop in shops:
            stock = (await http.get(f"{shop.url}/_sandbox/stock")).json()["stock"]
            for sku, row in stock.items():
                have = row["available"] if shop.platform == "shopify" else row["stock_num"]
                want = targets.get((shop.name, sku))
                if want != have:
                    wrong.append(f"{shop.name} {sku}: sandbox {have}, hub target {want}")
    return wrong


async def job_errors(database_url: str) -> dict[str, int]:
    engine = make_engine(Settings(database_url=database_url))
    try:
        async with make_sessionmaker(engine)() as s:
            dead = len((await s.execute(select(Job.id).where(Job.state == "dead"))).all())
            failed_pushes = len((await s.execute(select(Push.id).where(Push.status != "ok"))).all())
            failed_raw = len(
                (await s.execute(select(RawEvent.id).where(RawEvent.status.in_(("failed", "refused"))))).all()
            )
    finally:
        await engine.dispose()
    return {"dead jobs": dead, "push retries/failures": failed_pushes, "raw failed/refused": failed_raw}


# -- one mode ------------------------------------------------------------------------------------
def run_mode(mode: str, args: argparse.Namespace) -> list[Result]:
    rng = random.Random(args.seed)
    skus = [f"BK-{n:05d}" for n in range(args.skus)]
    hot = skus[: max(1, args.hot)]
    stock = {s: (1_000_000 if s in hot else 10_000) for s in skus}
    if mode == "production":
        db = asyncio.run(fresh_pg("zhongshu_bench_sync"))
        api_workers, workers = args.api_workers, args.workers
        pool = asyncio.run(pool_that_fits(args.db_pool, api_workers + workers))
        if pool < args.db_pool:
            print(f"  [production] database pools of {pool} (+10 overflow) per process: {api_workers + workers} "
                  f"processes must fit PostgreSQL's max_connections", flush=True)
        settings = hub_settings(db, asyncio.run(fresh_redis(REDIS_DB)), db_pool_size=str(pool))
    else:
        db = fresh_sqlite()
        settings = hub_settings(db)
        api_workers, workers = 1, 0
    results = []
    with hub_stack(settings, api_workers=api_workers, workers=workers, max_jobs=args.max_jobs) as stack, \
            sandboxes(stack.url, args.shops, skus, stock) as shops:  # fmt: skip
        auth = asyncio.run(register(stack, shops, skus, stock))
        warm = asyncio.run(drained(db, timeout=600))
        print(
            f"  [{mode}] {len(shops)} shops x {len(skus)} skus registered; opening stock pushed in {warm:.1f} s"
            f" (pids {stack.pids()})",
            flush=True,
        )
        if args.profile_seconds and mode == "production":
            args._profile_pids = stack.pids()
        for rate in args.rates:
            since = asyncio.run(log_marks(shops))
            pushes_since = asyncio.run(push_marks(shops))
            t0 = time.time()
            load_before = loadavg()
            profiler = _start_profile(args, mode, rate)
            transactions = asyncio.run(pg_transactions(db)) if mode == "production" else None
            sampler = CpuSampler()
            sampler.start()
            sent, elapsed = asyncio.run(drive(shops, skus, hot, rate=rate, duration=args.duration,
                                              cancel_share=args.cancel_share, seed=rng.randrange(1 << 30)))  # fmt: skip
            drain = asyncio.run(drained(db, timeout=args.drain_timeout))
            retried, lost = asyncio.run(platform_retries(shops, pushes_since, timeout=sum(PLATFORM_RETRY_DELAYS) + 30))
            if retried:  # and the events those retries brought
                asyncio.run(drained(db, timeout=args.drain_timeout))
            cpu = sampler.stop()
            if transactions is not None:
                transactions = asyncio.run(pg_transactions(db)) - transactions
            _stop_profile(profiler)
            load = f"{load_before} → {loadavg()}"
            lat, first, pushes, no_push, hops = asyncio.run(measure(db, shops, sent, since, t0))
            wrong = asyncio.run(verify(stack, auth, shops))
            errors = asyncio.run(job_errors(db))
            bad = [e for e in sent if e.status != 200]
            errors["webhooks redelivered by the platform"] = retried
            errors["webhooks never delivered"] = lost
            # at the first attempt, which: the hub's answer or the sender's error (Shopify gives up after 5 s)
            kinds = ", ".join(f"{k} {n}" for k, n in Counter(str(e.status) for e in bad).most_common())
            errors["webhooks not 200"] = f"{len(bad)} ({kinds})" if bad else 0
            for line in wrong[:10]:
                print("    MISMATCH", line)
            res = Result(mode, rate, len(sent), elapsed, lat, first, pushes, no_push, errors, len(wrong), drain, load,
                         hops, cpu, transactions)  # fmt: skip
            print_row(res, header=not results)
            results.append(res)
    print_where_time_goes(results)
    return results


def _start_profile(args: argparse.Namespace, mode: str, rate: float) -> list[Any]:
    import subprocess

    if not args.profile_seconds or mode != "production" or rate != (args.profile_rate or args.rates[0]):
        return []
    procs = []
    for pid in getattr(args, "_profile_pids", []):
        out = f"{args.profile_dir}/pyspy-{mode}-{int(rate)}-{pid}.txt"
        spy = str(Path(sys.executable).with_name("py-spy"))
        procs.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
                                       "--duration", str(int(args.profile_seconds)), "--rate", "50", "--nonblocking",
                                       "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    return procs


def _stop_profile(procs: list[Any]) -> None:
    for p in procs:
        p.wait()


def print_row(r: Result, *, header: bool) -> None:
    if header:
        print(
            f"  {'mode':<10} {'rate/s':>6} {'events':>6} {'sustained/s':>11} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
            f" {'max ms':>7} {'p99 1st':>7} {'push/ev':>7} {'no push':>7} {'drain s':>7} {'mismatch':>8}  errors; load"
        )
    sustained = r.sent / (r.duration + r.drained_after) if r.duration else 0
    per_event = r.pushes / max(1, r.sent)
    errs = ", ".join(f"{k} {v}" for k, v in r.errors.items() if v) or "none"
    print(
        f"  {r.mode:<10} {r.rate:>6.0f} {r.sent:>6} {sustained:>11.0f} {pct(r.latencies, 50):>7.0f}"
        f" {pct(r.latencies, 95):>7.0f} {pct(r.latencies, 99):>7.0f} {max(r.latencies, default=float('nan')):>7.0f}"
        f" {pct(r.first_channel, 99):>7.0f} {per_event:>7.2f} {r.no_push:>7} {r.drained_after:>7.1f} {r.mismatches:>8}"
        f"  {errs}; load {r.load}",
        flush=True,
    )


def print_where_time_goes(results: list[Result]) -> None:
    """Per run: the latency of each hop (p50 / p99 ms), and the CPU each part of the machine spent per event
    (load and drain, divided by the events sent), with the database transactions per event."""
    if not results:
        return
    parts = sorted({p for r in results for p in r.cpu}, key=lambda p: -max(r.cpu.get(p, 0) for r in results))
    print(f"  where the time goes ({results[0].mode}): hop latency p50/p99 ms; CPU ms per event by part")
    print(f"  {'rate/s':>6} " + " ".join(f"{h:>27}" for h in HOPS) + " " + " ".join(f"{p[:11]:>11}" for p in parts)
          + f" {'CPU total':>9} {'tx/event':>8}")  # fmt: skip
    for r in results:
        hops = " ".join(f"{pct(r.hops.get(h, []), 50):>13.0f}/{pct(r.hops.get(h, []), 99):<13.0f}" for h in HOPS)
        n = max(1, r.sent)
        cpu = " ".join(f"{r.cpu.get(p, 0) / n * 1000:>11.1f}" for p in parts)
        tx = f"{r.transactions / n:>8.1f}" if r.transactions is not None else f"{'-':>8}"
        print(f"  {r.rate:>6.0f} {hops} {cpu} {sum(r.cpu.values()) / n * 1000:>9.1f} {tx}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[100, 500, 1000], help="events/s to offer")
    ap.add_argument("--duration", type=float, default=20, help="seconds of load per rate")
    ap.add_argument("--shops", type=int, default=4, help="shops (alternately Shopify and Douyin)")
    ap.add_argument("--skus", type=int, default=1000)
    ap.add_argument("--hot", type=int, default=10, help="hot skus (30%% of the orders)")
    ap.add_argument("--cancel-share", type=float, default=0.1, help="share of events that cancel an earlier order")
    ap.add_argument("--modes", nargs="+", default=["production", "embedded"], choices=["production", "embedded"])
    ap.add_argument("--api-workers", type=int, default=2, help="production: zhongshu serve --workers")
    ap.add_argument("--workers", type=int, default=1, help="production: zhongshu worker processes")
    ap.add_argument("--max-jobs", type=int, default=20, help="production: zhongshu worker --max-jobs")
    ap.add_argument("--db-pool", type=int, default=20, help="production: ZHONGSHU_DB_POOL_SIZE (+10 overflow)")
    ap.add_argument("--drain-timeout", type=float, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile-seconds", type=float, default=0,
                    help="py-spy the hub processes during the first rate (pip install -e '.[profile]')")
    ap.add_argument("--profile-dir", default="/tmp")
    ap.add_argument("--profile-rate", type=float, default=0, help="the rate to profile (default: the first)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 shops x 40 skus, 50 events/s for 5 s")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the hub and sandboxes on the way out
    if args.quick:
        args.rates, args.duration, args.shops, args.skus, args.hot = [50], 5, 2, 40, 4
    print(
        f"sync latency: webhook accepted → push received by every other shop; {args.shops} shops x {args.skus} skus"
        f" ({args.hot} hot), {args.duration:.0f} s per rate; {machine()}",
        flush=True,
    )
    for mode in args.modes:
        run_mode(mode, args)
    print(f"  load average at the end: {loadavg()}")


if __name__ == "__main__":
    main()
