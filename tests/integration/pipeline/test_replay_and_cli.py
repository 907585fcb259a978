"""Order independence, the replay command, and the mapping/rule CLI commands."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import httpx

from hub.settings import Settings
from mappings import FIXTURES_DIR
from tests.support.hubserver import HubServer
from tests.support.processes import hub_env, zhongshu
from tests.support.seed import SEED, fixture, post_raw, renamed, wait_processed


async def _ledger(client: httpx.AsyncClient, sku: str) -> dict[str, int]:
    stock = (await client.get(f"/api/v1/stock/{sku}")).json()
    return {b["account"]: b["qty"] for b in stock["balances"]}


async def _send(client: httpx.AsyncClient, sku: str, order: list[int], dupes: list[int]) -> None:
    for i in [*order, *dupes]:
        source, rel = SEED[i]
        doc = fixture(rel)
        body = await post_raw(client, source, doc["topic"], f"{sku}-{source}", renamed(doc["payload"], {"A": sku}))
        await wait_processed(client, [body["raw_event_id"]])


async def test_same_events_in_another_order_with_duplicates_give_the_same_ledger(hub_server: HubServer) -> None:
    a, b = f"R-{uuid.uuid4().hex[:8]}", f"R-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        await _send(client, a, [0, 1, 2], [])
        await _send(client, b, [2, 1, 0], [0, 2, 1])
        assert await _ledger(client, a) == await _ledger(client, b) != {}
        va = (await client.get("/api/v1/views/erp.available", params={"sku": a})).json()["value"]
        vb = (await client.get("/api/v1/views/erp.available", params={"sku": b})).json()["value"]
        assert va == vb == "164"


async def test_replay_command_rewrites_nothing_when_rules_are_unchanged(hub_server: HubServer, pg_settings: Settings) -> None:
    sku = f"R-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=hub_server.url, headers=hub_server.auth, timeout=30) as client:
        await _send(client, sku, [0, 1, 2], [])
        before = (await client.get("/api/v1/movements", params={"sku": sku})).json()
        out = subprocess.run(zhongshu("replay", "--source", "wms", "--since", "2000-01-01T00:00:00"),
                             env=hub_env(database_url=pg_settings.database_url), capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "replayed" in out.stderr and "'changed'" not in out.stderr
        assert (await client.get("/api/v1/movements", params={"sku": sku})).json() == before


def test_mappings_check_and_try_print_observations(tmp_path: Path) -> None:
    assert subprocess.run(zhongshu("mappings", "check"), capture_output=True, timeout=60).returncode == 0
    out = subprocess.run(zhongshu("mappings", "try", "douyin.sku_stock_change",
                                  str(Path(FIXTURES_DIR) / "douyin/sku_stock_change.json")),
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    observations = json.loads(out.stdout)["observations"]
    assert {"sku": "A", "stock_type": "sellable", "quantity": 152}.items() <= observations[0].items()
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    out = subprocess.run(zhongshu("mappings", "try", "douyin.sku_stock_change", str(bad)), capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2 and "cannot read" in out.stderr and "Traceback" not in out.stderr


def test_rules_try_explains_the_decision(tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps([
        {"source": "wms", "stock_type": "on_hand", "value": 168, "observed_at": "2026-05-01T10:00:00+00:00"},
        {"source": "manual_franchise_12", "stock_type": "on_hand", "value": 150,
         "observed_at": "2026-05-01T10:01:00+00:00"},
    ]))  # fmt: skip
    out = subprocess.run(zhongshu("rules", "try", str(claims), "--current", "100"), capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)
    assert decision["chosen"] == "wms" and decision["value"] == 168 and "authority" in decision["stage"]
    assert subprocess.run(zhongshu("rules", "check"), capture_output=True, timeout=60).returncode == 0


def test_channels_add_stores_credentials_encrypted_and_lists_without_them(pg_settings: Settings) -> None:
    name = f"taobao_{uuid.uuid4().hex[:6]}"
    env = {**hub_env(database_url=pg_settings.database_url), "COLUMNS": "250"}
    out = subprocess.run(zhongshu("channels", "add", name, "--platform", "taobao", "--base-url", "http://127.0.0.1:9",
                                  "--credential", "app_secret=TOPSECRET-123", "--setting", "poll=false",
                                  "--listing", 'A={"num_iid": 1}'), env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    listed = subprocess.run(zhongshu("channels", "list"), env=env, capture_output=True, text=True, timeout=60)
    assert name in listed.stdout and "stored" in listed.stdout and "TOPSECRET" not in listed.stdout
    bad = subprocess.run(zhongshu("channels", "add", "x_y", "--platform", "nope"), env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "unknown platform" in bad.stderr
