"""The seed's worked example (seed 004, 多源异构数据实时融合) as raw payloads in each platform's format."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from mappings import FIXTURES_DIR

SEED = [("wms", "qimen/inventory_query_response.json"), ("meituan", "meituan/sku_stock.json"),
        ("douyin", "douyin/sku_stock_change.json")]  # fmt: skip


def fixture(rel: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((Path(FIXTURES_DIR) / rel).read_text(encoding="utf-8"))
    return doc


def renamed(payload: Any, sku_map: dict[str, str]) -> Any:
    """The same payload with its skus renamed, so every test can use its own skus in one database."""
    text = json.dumps(payload, ensure_ascii=False)
    for old, new in sku_map.items():
        for quote in ('"', '\\"'):
            text = text.replace(f"{quote}{old}{quote}", f"{quote}{new}{quote}")
    return json.loads(text)


async def post_raw(client: httpx.AsyncClient, source: str, topic: str, event_id: str, payload: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/sources/{source}/events", content=json.dumps(payload, ensure_ascii=False),
                          headers={"x-zhongshu-topic": topic, "x-zhongshu-event-id": event_id,
                                   "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def wait_processed(client: httpx.AsyncClient, raw_ids: list[int], timeout: float = 20) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        events = [(await client.get(f"/api/v1/raw-events/{i}")).json() for i in raw_ids]
        if all(e["status"] != "pending" for e in events):
            return events
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"raw events still pending: {events}")
        await asyncio.sleep(0.05)


async def send_seed(client: httpx.AsyncClient, sku: str, tag: str) -> list[int]:
    """Post the three seed payloads with SKU A renamed to ``sku``; returns their raw event ids."""
    ids = []
    for source, rel in SEED:
        doc = fixture(rel)
        payload = renamed(doc["payload"], {"A": sku, "B": f"{sku}-B"})
        ids.append((await post_raw(client, source, doc["topic"], f"{tag}-{source}", payload))["raw_event_id"])
    return ids
