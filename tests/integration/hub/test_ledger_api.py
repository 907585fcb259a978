"""The ledger over real HTTP, on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.support.hubserver import HubServer


def mv(key: str, sku: str, qty: Any, src: str, dst: str, kind: str = "move") -> dict[str, Any]:
    return {"key": key, "sku": sku, "qty": qty, "from": src, "to": dst, "kind": kind}


async def post(client: httpx.AsyncClient, *movements: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/movements", json={"movements": list(movements)})


async def stock(client: httpx.AsyncClient, sku: str) -> dict[str, int]:
    body = (await client.get(f"/api/v1/stock/{sku}")).json()
    assert body["sum"] == 0
    return {b["account"]: b["qty"] for b in body["balances"]}


@pytest.fixture
async def client(any_hub_server: HubServer) -> Any:
    async with httpx.AsyncClient(base_url=any_hub_server.url, headers=any_hub_server.auth, timeout=30) as c:
        yield c


async def test_receive_reserve_ship_keeps_every_sku_at_sum_zero(client: httpx.AsyncClient, sku: str) -> None:
    r = await post(client, mv(f"{sku}-r", sku, 10, "supplier", "W/free", "receive"))
    assert r.status_code == 201 and r.json()["movements"][0]["status"] == "applied"
    r = await post(client, mv(f"{sku}-s", sku, 4, "W/free", "W/reserved", "reserve"),
                   mv(f"{sku}-x", sku, 3, "W/reserved", "customer", "ship"))  # fmt: skip
    assert r.status_code == 201
    assert await stock(client, sku) == {"W/free": 6, "W/reserved": 1, "customer": 3, "supplier": -10}


async def test_replaying_a_key_changes_nothing_and_returns_the_original(client: httpx.AsyncClient, sku: str) -> None:
    first = (await post(client, mv(f"{sku}-r", sku, 5, "supplier", "W/free", "receive"))).json()["movements"][0]
    again = await post(client, mv(f"{sku}-r", sku, 5, "supplier", "W/free", "receive"))
    assert again.status_code == 201
    dup = again.json()["movements"][0]
    assert dup["status"] == "duplicate" and dup["id"] == first["id"]
    assert await stock(client, sku) == {"W/free": 5, "supplier": -5}


async def test_a_key_reused_for_different_content_is_refused(client: httpx.AsyncClient, sku: str) -> None:
    await post(client, mv(f"{sku}-r", sku, 5, "supplier", "W/free", "receive"))
    r = await post(client, mv(f"{sku}-r", sku, 6, "supplier", "W/free", "receive"))
    assert r.status_code == 409 and "already used" in r.json()["detail"]
    assert await stock(client, sku) == {"W/free": 5, "supplier": -5}


async def test_overdraw_is_refused_with_shortfall_and_the_batch_applies_nothing(
    client: httpx.AsyncClient, sku: str
) -> None:
    await post(client, mv(f"{sku}-r", sku, 3, "supplier", "W/free", "receive"))
    r = await post(client, mv(f"{sku}-a", sku, 1, "supplier", "W/free", "receive"),
                   mv(f"{sku}-b", sku, 5, "W/free", "W/reserved", "reserve"))  # fmt: skip
    assert r.status_code == 409
    body = r.json()
    assert body["account"] == "W/free" and body["shortfall"] == 1 and "short by 1" in body["detail"]
    assert await stock(client, sku) == {"W/free": 3, "supplier": -3}
    # the refused batch left no keys behind: the same keys apply once stock allows
    await post(client, mv(f"{sku}-c", sku, 1, "supplier", "W/free", "receive"))
    r = await post(client, mv(f"{sku}-a", sku, 1, "supplier", "W/free", "receive"),
                   mv(f"{sku}-b", sku, 5, "W/free", "W/reserved", "reserve"))  # fmt: skip
    assert [m["status"] for m in r.json()["movements"]] == ["applied", "applied"]


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (b"{not json", 400, "malformed"),
        (b'{"movements": []}', 422, "movements"),
        (b'{"movements": [{"sku": "A", "qty": 1, "from": "supplier", "to": "W/free"}]}', 422, "key"),
        (b'{"movements": [{"key": "k", "sku": "A", "qty": 0, "from": "supplier", "to": "W/free"}]}', 422, "qty"),
        (b'{"movements": [{"key": "k", "sku": "A", "qty": -4, "from": "supplier", "to": "W/free"}]}', 422, "qty"),
        (b'{"movements": [{"key": "k", "sku": "A", "qty": "two", "from": "supplier", "to": "W/free"}]}', 422, "qty"),
        (b'{"movements": [{"key": "k", "sku": "A", "qty": 1, "from": "mars", "to": "W/free"}]}', 422, "mars"),
        (b'{"movements": [{"key": "k", "sku": "A", "qty": 1, "from": "supplier", "to": "W/gone"}]}', 422, "gone"),
        (b'{"movements": [{"key": "k", "sku": "A", "qty": 1, "from": "supplier", "to": "W/free", "x": 1}]}', 422, "x"),
    ],
)
async def test_bad_input_gets_a_clear_4xx_and_stores_nothing(
    client: httpx.AsyncClient, sku: str, body: bytes, status: int, fragment: str
) -> None:
    body = body.replace(b'"sku": "A"', f'"sku": "{sku}"'.encode()).replace(b'"key": "k"', f'"key": "{sku}"'.encode())
    r = await client.post("/api/v1/movements", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert fragment in r.text
    assert await stock(client, sku) == {}


async def test_reservation_ships_once_and_cannot_then_be_cancelled(client: httpx.AsyncClient, sku: str) -> None:
    await post(client, mv(f"{sku}-r", sku, 5, "supplier", "W/free", "receive"))
    res = {"key": f"{sku}-o1", "sku": sku, "location": "W", "qty": 2, "order_ref": "T1"}
    r = await client.post("/api/v1/reservations", json=res)
    assert r.status_code == 201 and r.json()["status"] == "held"
    assert (await client.post("/api/v1/reservations", json=res)).json()["result"] == "duplicate"
    ship = await client.post(f"/api/v1/reservations/{sku}-o1/ship")
    assert ship.status_code == 200 and ship.json()["status"] == "shipped"
    assert (await client.post(f"/api/v1/reservations/{sku}-o1/ship")).json()["result"] == "duplicate"
    cancel = await client.post(f"/api/v1/reservations/{sku}-o1/cancel")
    assert cancel.status_code == 409 and "shipped" in cancel.json()["detail"]
    assert await stock(client, sku) == {"W/free": 3, "W/reserved": 0, "customer": 2, "supplier": -5}
    assert (await client.post("/api/v1/reservations/nope-404/ship")).status_code == 404


async def test_reservation_that_would_oversell_is_refused(client: httpx.AsyncClient, sku: str) -> None:
    await post(client, mv(f"{sku}-r", sku, 1, "supplier", "W/free", "receive"))
    r = await client.post("/api/v1/reservations", json={"key": f"{sku}-o", "sku": sku, "location": "W", "qty": 2})
    assert r.status_code == 409 and r.json()["shortfall"] == 1
    # nothing half-written: the same key can be used once stock arrives
    await post(client, mv(f"{sku}-r2", sku, 1, "supplier", "W/free", "receive"))
    r = await client.post("/api/v1/reservations", json={"key": f"{sku}-o", "sku": sku, "location": "W", "qty": 2})
    assert r.status_code == 201


async def test_expired_reservation_is_released_by_the_hub(client: httpx.AsyncClient, sku: str) -> None:
    await post(client, mv(f"{sku}-r", sku, 4, "supplier", "W/free", "receive"))
    soon = (datetime.now(timezone.utc) + timedelta(seconds=0.5)).isoformat()
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    await client.post("/api/v1/reservations", json={"key": f"{sku}-e", "sku": sku, "location": "W", "qty": 3,
                                                    "expires_at": soon})  # fmt: skip
    await client.post("/api/v1/reservations", json={"key": f"{sku}-l", "sku": sku, "location": "W", "qty": 1,
                                                    "expires_at": later})  # fmt: skip
    for _ in range(100):
        if (await stock(client, sku)).get("W/free") == 3:
            break
        await asyncio.sleep(0.1)
    assert await stock(client, sku) == {"W/free": 3, "W/reserved": 1, "supplier": -4}
    ship = await client.post(f"/api/v1/reservations/{sku}-e/ship")
    assert ship.status_code == 409 and "expired" in ship.json()["detail"]


async def test_movements_are_paged_newest_first(client: httpx.AsyncClient, sku: str) -> None:
    for i in range(5):
        await post(client, mv(f"{sku}-{i}", sku, 1, "supplier", "W/free", "receive"))
    page1 = (await client.get("/api/v1/movements", params={"sku": sku, "limit": 3})).json()
    assert [m["key"] for m in page1["movements"]] == [f"{sku}-4", f"{sku}-3", f"{sku}-2"]
    page2 = (await client.get("/api/v1/movements", params={"sku": sku, "limit": 3,
                                                          "before_id": page1["next_before_id"]})).json()  # fmt: skip
    assert [m["key"] for m in page2["movements"]] == [f"{sku}-1", f"{sku}-0"]
    assert page2["next_before_id"] is None


async def test_lineage_walks_from_a_shipment_back_to_its_reservation_and_raw_parent(
    client: httpx.AsyncClient, sku: str
) -> None:
    await post(client, mv(f"{sku}-r", sku, 2, "supplier", "W/free", "receive"))
    r = await client.post("/api/v1/reservations", json={"key": f"{sku}-o", "sku": sku, "location": "W", "qty": 1,
                                                        "parents": [f"raw:{sku}"]})  # fmt: skip
    reserve_node = r.json()["movement"]["lineage_id"]
    ship = (await client.post(f"/api/v1/reservations/{sku}-o/ship")).json()
    walk = (await client.get(f"/api/v1/lineage/{ship['movement']['lineage_id']}")).json()
    assert walk["node"]["kind"] == "movement"
    assert [n["id"] for n in walk["upstream"]] == [reserve_node]
    assert {"child": reserve_node, "parent": f"raw:{sku}"} in walk["upstream_edges"]
    down = (await client.get(f"/api/v1/lineage/{reserve_node}")).json()
    assert [n["id"] for n in down["downstream"]] == [ship["movement"]["lineage_id"]]
    assert (await client.get("/api/v1/lineage/movement:999999999")).status_code == 404


async def test_health_metrics_and_openapi_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json()["status"] == "ok"
    metrics = await client.get("/metrics")
    assert "zhongshu_movements_total" in metrics.text
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/movements" in schema["paths"] and "/api/v1/lineage/{node_id}" in schema["paths"]
