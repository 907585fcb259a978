"""Two API processes on PostgreSQL, 200 concurrent 1-unit reservations on 50 units: exactly 50 win."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from hub.settings import Settings
from tests.support.auth import bearer, token_for
from tests.support.processes import serving

pytestmark = pytest.mark.slow


async def _reserve_all(url: str, sku: str, n: int, auth: dict[str, str]) -> list[int]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, headers=auth) as client:

        async def one(i: int) -> int:
            body = {"key": f"{sku}-order-{i}", "sku": sku, "location": "WH", "qty": 1, "order_ref": f"T{i}"}
            for attempt in range(3):  # a dropped connection is retried, as any client does: the key makes it safe
                try:
                    return (await client.post("/api/v1/reservations", json=body)).status_code
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        return list(await asyncio.gather(*(one(i) for i in range(n))))


async def test_two_processes_never_oversell_and_replays_change_nothing(pg_settings: Settings, sku: str) -> None:
    auth = bearer(token_for(pg_settings, "operator"))
    with serving(workers=2, database_url=pg_settings.database_url) as url:
        async with httpx.AsyncClient(base_url=url, headers=auth) as client:
            r = await client.post("/api/v1/movements", json={"movements": [
                {"key": f"{sku}-in", "sku": sku, "qty": 50, "from": "supplier", "to": "WH/free", "kind": "receive"}]})
            assert r.status_code == 201

            codes = await _reserve_all(url, sku, 200, auth)
            assert codes.count(201) == 50 and codes.count(409) == 150, codes

            stock = (await client.get(f"/api/v1/stock/{sku}")).json()
            balances = {b["account"]: b["qty"] for b in stock["balances"]}
            assert balances == {"WH/free": 0, "WH/reserved": 50, "supplier": -50}
            assert stock["sum"] == 0

            replay = await _reserve_all(url, sku, 200, auth)
            assert replay.count(201) == 50 and replay.count(409) == 150
            again = (await client.get(f"/api/v1/stock/{sku}")).json()
            assert {b["account"]: (b["qty"], b["version"]) for b in again["balances"]} == {
                b["account"]: (b["qty"], b["version"]) for b in stock["balances"]
            }
            movements = (await client.get("/api/v1/movements", params={"sku": sku, "limit": 500})).json()
            assert len(movements["movements"]) == 51


async def test_a_movement_waits_while_the_pipeline_compares_under_the_skus_lock(pg_settings: Settings, sku: str) -> None:
    """A WMS snapshot is compared with the ledger under the sku's lock: a receipt booked through the API in
    the middle must wait for it, or the snapshot would be judged against a figure it never saw."""
    from hub.domain.ledger import Account, Movement
    from hub.services import ledger
    from hub.storage import locks
    from hub.storage.engine import make_engine, make_sessionmaker

    engine = make_engine(pg_settings)
    sessions = make_sessionmaker(engine)
    receipt = Movement(key=f"{sku}-rcv", sku=sku, qty=2, source=Account.parse("supplier"),
                       target=Account.parse("WH/free"), kind="receive")  # fmt: skip
    try:
        async with sessions() as comparing, comparing.begin():
            await locks.lock(comparing, [f"sku:{sku}"])

            async def book() -> None:
                async with sessions() as s, s.begin():
                    await ledger.apply_movements(s, [receipt], guarded_buckets=list(pg_settings.guarded_buckets))

            booking = asyncio.create_task(book())
            await asyncio.sleep(0.5)
            assert not booking.done()  # held back while the comparison runs
        await asyncio.wait_for(booking, 10)  # and booked once it is over
        async with sessions() as s:
            assert {b.account: b.qty for b in await ledger.balances(s, sku)}["WH/free"] == 2
    finally:
        await engine.dispose()
