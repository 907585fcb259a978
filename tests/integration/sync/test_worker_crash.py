"""Production mode (``zhongshu serve`` + ``zhongshu worker`` on PostgreSQL and Redis): the worker is killed
with SIGKILL in the middle of a burst and another one started; every channel converges to the figure its
rule gives from the ledger, and no movement is doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from connectors.shopify.sandbox import create_app
from connectors.testing import run_sandbox
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.models import MovementRow, Reservation
from tests.support.auth import bearer, token_for
from tests.support.processes import ROOT, hub_env, serving, stop, zhongshu

SECRET, TOKEN = "shpss_crash_secret", "shpat_crash_token"
REDIS_BASE = os.environ.get("ZHONGSHU_TEST_REDIS", "redis://127.0.0.1:6379/3").rsplit("/", 1)[0]
SKUS = [f"K-{n}" for n in range(6)]
OPENING = 200


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A db index of its own (8–15 by pid), emptied: another test's worker must not take our job ids."""
    from redis import Redis

    url = f"{REDIS_BASE}/{8 + os.getpid() % 8}"
    client = Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(zhongshu("worker", "--max-jobs", "20"), env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


async def eventually(check: Any, timeout: float = 40) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last is True:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not converged: {last}")


async def test_worker_killed_mid_burst_every_channel_converges_and_no_movement_doubles(
    private_pg_settings: Settings, redis_url: str
) -> None:
    settings = {"database_url": private_pg_settings.database_url, "redis_url": redis_url,
                "job_stuck_after_seconds": "2", "reconcile_interval_seconds": "3600",
                "poll_interval_seconds": "3600", "log_level": "WARNING",
                "secret_key": "mC1PFjjlJAnhZ6ZVAGMmqX4vtIgfd8e0i4TTzTlw6Rk="}  # fmt: skip
    env = hub_env(**settings)
    with serving(workers=1, **settings) as hub_url:
        shops = {f"shop{n}_{uuid.uuid4().hex[:4]}": None for n in range(2)}
        apps = {name: create_app(app_key="k", app_secret=SECRET, access_token=TOKEN, skus={s: 0 for s in SKUS},
                                 hub_url=f"{hub_url}/webhooks/{name}", rest_bucket=100_000, rest_leak=100_000.0,
                                 graphql_max=1e9, graphql_restore=1e9) for name in shops}  # fmt: skip
        worker = start_worker(env)
        with run_sandbox(apps[list(shops)[0]]) as url0, run_sandbox(apps[list(shops)[1]]) as url1:
            urls = dict(zip(shops, (url0, url1), strict=True))
            auth = bearer(token_for(Settings(database_url=private_pg_settings.database_url)))
            async with httpx.AsyncClient(base_url=hub_url, headers=auth, timeout=30) as hub, \
                    httpx.AsyncClient(timeout=30) as sb:  # fmt: skip
                for name, url in urls.items():
                    rows = (await sb.get(f"{url}/_sandbox/stock")).json()["stock"]
                    listings = {s: {"inventory_item_id": rows[s]["inventory_item_id"],
                                    "location_id": rows[s]["location_id"]} for s in SKUS}  # fmt: skip
                    r = await hub.post(
                        "/api/v1/sources",
                        json={
                            "name": name,
                            "platform": "shopify",
                            "base_url": url,
                            "default_location": "WH",
                            "listings": listings,
                            "settings": {"shop_domain": "zhongshu-sandbox.myshopify.com", "poll": False},
                        },
                    )
                    assert r.status_code == 201, r.text
                    r = await hub.put(
                        f"/api/v1/sources/{name}/credentials",
                        json={"credentials": {"app_key": "k", "app_secret": SECRET, "access_token": TOKEN}},
                    )
                    assert r.status_code in (200, 204), r.text
                moves = [{"key": f"open:{s}", "sku": s, "qty": OPENING, "from": "supplier", "to": "WH/free",
                          "kind": "receive"} for s in SKUS]  # fmt: skip
                assert (await hub.post("/api/v1/movements", json={"movements": moves})).status_code == 201

                async def channels_show(want: dict[str, int] | None = None) -> Any:
                    listings = (await hub.get("/api/v1/listings")).json()
                    wrong = []
                    for row in listings:
                        have = (await sb.get(f"{urls[row['source']]}/_sandbox/stock")).json()["stock"][row["sku"]]
                        expect = want[row["sku"]] if want else row["target"]
                        if have["available"] != expect or row["target"] != expect:
                            wrong.append((row["source"], row["sku"], have["available"], row["target"], expect))
                    return True if not wrong else wrong

                await eventually(lambda: channels_show({s: OPENING for s in SKUS}))

                # the burst: orders on both shops and receipts at the warehouse; the worker dies in the middle
                orders: list[tuple[str, str]] = []

                async def order(n: int) -> None:
                    name = list(shops)[n % 2]
                    sku = SKUS[n % len(SKUS)]
                    r = await sb.post(
                        f"{urls[name]}/_sandbox/events", json={"type": "order", "sku": sku, "quantity": 1}
                    )
                    assert r.status_code == 201, r.text
                    orders.append((name, sku))

                async def receipt(n: int) -> None:
                    r = await hub.post("/api/v1/movements", json={"movements": [{
                        "key": f"burst:{n}", "sku": SKUS[n % len(SKUS)], "qty": 3, "from": "supplier", "to": "WH/free",
                        "kind": "receive"}]})  # fmt: skip
                    assert r.status_code == 201, r.text

                for wave in range(6):
                    await asyncio.gather(*(order(wave * 20 + n) for n in range(16)),
                                         *(receipt(wave * 20 + n) for n in range(4)))  # fmt: skip
                    if wave == 2:
                        os.killpg(worker.pid, signal.SIGKILL)
                        worker.wait()
                        worker = start_worker(env)
                    await asyncio.sleep(0.1)

                sold = {s: sum(1 for _, k in orders if k == s) for s in SKUS}
                received = {s: 3 * sum(1 for w in range(6) for n in range(4)
                                       if (w * 20 + n) % len(SKUS) == SKUS.index(s)) for s in SKUS}  # fmt: skip
                want = {s: OPENING + received[s] - sold[s] for s in SKUS}
                try:
                    await eventually(lambda: channels_show(want), timeout=60)
                finally:
                    stop(worker, signal.SIGKILL)

    engine = make_engine(Settings(database_url=private_pg_settings.database_url))
    try:
        async with make_sessionmaker(engine)() as s:
            keys = (await s.execute(select(MovementRow.key, func.count()).group_by(MovementRow.key)
                                    .having(func.count() > 1))).all()  # fmt: skip
            held = (await s.execute(select(Reservation.sku, func.sum(Reservation.qty)).group_by(Reservation.sku))).all()
    finally:
        await engine.dispose()
    assert keys == []  # no movement applied twice
    assert {sku: int(q) for sku, q in held} == {s: n for s, n in sold.items() if n}  # each order reserved once
