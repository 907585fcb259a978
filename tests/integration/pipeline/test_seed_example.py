"""Seed 004's worked example, end to end from raw payloads: WMS on_hand 168, Meituan 12 pending outbound,
Douyin 可售库存 152 with 8 presale-locked → erp.available = 168 - 12 + 8 = 164, with lineage to all three."""

from __future__ import annotations

import uuid

import httpx

from tests.support.hubserver import HubServer
from tests.support.seed import fixture, post_raw, renamed, send_seed, wait_processed


async def test_erp_available_is_164_and_its_lineage_reaches_all_three_raw_events(any_hub_server: HubServer) -> None:
    sku = f"A-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=any_hub_server.url, headers=any_hub_server.auth, timeout=30) as client:
        raw_ids = await send_seed(client, sku, sku)
        events = await wait_processed(client, raw_ids)
        assert [e["status"] for e in events] == ["processed"] * 3, events

        view = (await client.get("/api/v1/views/erp.available", params={"sku": sku})).json()
        assert view["value"] == "164"
        assert view["inputs"] == {"wms.on_hand": "168", "meituan.reserved": "12", "douyin.presale_locked": "8"}

        walk = (await client.get(f"/api/v1/lineage/{view['lineage_id']}")).json()
        upstream = {n["id"] for n in walk["upstream"]}
        assert {f"raw:{i}" for i in raw_ids} <= upstream
        kinds = {n["kind"] for n in walk["upstream"]}
        assert {"mapping_rule", "view_definition", "observation", "raw_event"} <= kinds
        assert any(n["id"].startswith("viewdef:erp.available@") for n in walk["upstream"])

        # the WMS figure settled into the ledger as an adjust movement named after its decision
        stock = (await client.get(f"/api/v1/stock/{sku}")).json()
        assert {b["account"]: b["qty"] for b in stock["balances"]}["WH-SH/free"] == 168


async def test_replaying_the_same_raw_events_changes_nothing(hub_server: HubServer) -> None:
    sku = f"A-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        first = await send_seed(client, sku, sku)
        await wait_processed(client, first)
        movements = (await client.get("/api/v1/movements", params={"sku": sku})).json()["movements"]
        again = await send_seed(client, sku, sku)  # redelivered: same platform event ids
        assert again == first
        assert (await client.get("/api/v1/movements", params={"sku": sku})).json()["movements"] == movements


async def test_a_low_trust_count_contradicting_the_wms_is_quarantined_then_approved_or_rejected(
    hub_server: HubServer,
) -> None:
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        for verdict in ("approve", "reject"):
            sku = f"A-{uuid.uuid4().hex[:8]}"
            await wait_processed(client, await send_seed(client, sku, sku))
            manual = renamed(fixture("manual/franchise_count.json")["payload"], {"A": sku})
            r = await client.post("/api/v1/observations", json=manual)
            assert r.status_code == 202, r.text
            await wait_processed(client, [r.json()["raw_event_id"]])
            pending = (await client.get("/api/v1/decisions", params={"status": "pending", "sku": sku})).json()
            assert len(pending) == 1
            decision = pending[0]
            assert decision["value"] == 150 and decision["chosen_source"] == "manual_franchise_12"
            assert "tolerance" in decision["reason"]
            before = (await client.get("/api/v1/movements", params={"sku": sku})).json()["movements"]
            r = await client.post(f"/api/v1/decisions/{decision['id']}/{verdict}", json={"reason": "recount"})
            assert r.status_code == 200, r.text
            after = (await client.get("/api/v1/movements", params={"sku": sku})).json()["movements"]
            stock = {b["account"]: b["qty"] for b in (await client.get(f"/api/v1/stock/{sku}")).json()["balances"]}
            if verdict == "approve":
                assert len(after) == len(before) + 1 and after[0]["kind"] == "adjust" and after[0]["qty"] == 18
                assert stock["WH-SH/free"] == 150
            else:
                assert after == before and stock["WH-SH/free"] == 168
            again = await client.post(f"/api/v1/decisions/{decision['id']}/approve", json={"reason": "twice"})
            assert again.status_code == 409


async def test_an_event_no_rule_understands_is_kept_and_flagged_unmapped(hub_server: HubServer) -> None:
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        body = await post_raw(client, "douyin", "no_such_tag", f"x-{uuid.uuid4().hex}", {"tag": "no_such_tag"})
        [event] = await wait_processed(client, [body["raw_event_id"]])
        assert event["status"] == "unmapped" and '"no_such_tag"' in event["body"]


async def test_a_source_named_freely_is_read_with_its_platforms_dictionary_entry(hub_server: HubServer) -> None:
    """An operator names instances after the business (``cainiao_hz``), not the platform: the WMS snapshot
    still means what the ``wms`` entry says and settles into the ledger with the WMS's trust."""
    sku = f"A-{uuid.uuid4().hex[:8]}"
    name = f"cainiao_{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        r = await client.post("/api/v1/sources", json={"name": name, "platform": "qimen", "base_url": "http://127.0.0.1:9"})
        assert r.status_code == 201, r.text
        doc = fixture("qimen/inventory_query_response.json")
        raw = await post_raw(client, name, doc["topic"], f"{sku}-snapshot", renamed(doc["payload"], {"A": sku}))
        [event] = await wait_processed(client, [raw["raw_event_id"]])
        assert event["status"] == "processed", event
        assert not any("dictionary" in e for e in event.get("errors") or []), event
        stock = (await client.get(f"/api/v1/stock/{sku}")).json()
        assert {b["account"]: b["qty"] for b in stock["balances"]}["WH-SH/free"] == 168
