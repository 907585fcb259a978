"""DouyinConnector: the acceptance kit against the Douyin sandbox, message push into a real hub-like
receiver (event-sign, msg_id dedupe, Douyin's answer), enrichment, tokens and both stock figures."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, Response, post

from connectors.base import InstanceConfig, PushedEvent, RetryPolicy, VerificationError
from connectors.douyin import DouyinConnector
from connectors.douyin.sandbox import create_app
from connectors.douyin.signing import push_sign
from connectors.testing import run_sandbox
from connectors.testing.acceptance import ConnectorAcceptanceSuite

KEY, SECRET, TOKEN, SHOP = "7000000000000000002", "dy-kit-secret", "dy-kit-token", "4463798"
FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, max_retry_after=0.02)


def make_config(base_url: str, **credentials: str) -> InstanceConfig:
    return InstanceConfig(
        name="douyin-test",
        platform="douyin",
        base_url=base_url,
        credentials={"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN, **credentials},
        settings={"page_size": 3},
        listings={"SKU-A": {}, "SKU-B": {}},
    )


class TestDouyinAcceptance(ConnectorAcceptanceSuite):
    connector_class = DouyinConnector
    sandbox_kwargs = {
        "app_key": KEY,
        "app_secret": SECRET,
        "access_token": TOKEN,
        "rate_limit_per_second": 1000,
        "rate_limit_burst": 1000,
        "push_retry_delays": [],
    }
    push_has_timestamp = False  # a Douyin push carries none; replays are caught by msg_id

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return InstanceConfig(
            name="douyin-kit",
            platform="douyin",
            base_url=base_url,
            credentials={"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN},
            listings={sku: {"sku_id": row["sku_id"]} for sku, row in stock.items()},
        )

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        return {**headers, "event-sign": push_sign(KEY, config.credentials["app_secret"], body)}

    def record_id(self, event: PushedEvent) -> str:
        return str(event.payload["order_id"])

    def sandbox_available(self, stock: Mapping[str, Any], sku: str) -> int:
        return int(stock[sku]["stock_num"])

    def is_page_request(self, entry: Mapping[str, Any]) -> bool:
        return bool(entry["path"] == "/order/searchList")  # Douyin's gateway takes POST


# -- a hub-like receiver: verify, keep durably (a list), then answer as Douyin expects -------------------
class Hub:
    def __init__(self) -> None:
        self.accepted: list[PushedEvent] = []
        self.answers: list[tuple[int, bytes]] = []
        self.connector: DouyinConnector | None = None

    def app(self) -> Litestar:
        @post("/webhooks/douyin", status_code=200)
        async def receive(request: Request[Any, Any, Any]) -> Response[bytes]:
            assert self.connector is not None
            body = await request.body()
            try:
                event = self.connector.verify_push(dict(request.headers), body, now=time.time())
            except VerificationError as error:
                ack = self.connector.push_refusal(error)
            else:
                self.accepted.append(event)  # "durable" before the answer
                ack = self.connector.push_ack(event)
            self.answers.append((ack.status, ack.body))
            return Response(ack.body, status_code=ack.status, media_type=ack.content_type)

        return Litestar([receive])


@pytest.fixture
def hub_and_sandbox() -> Iterator[tuple[Hub, str]]:
    hub = Hub()
    with run_sandbox(hub.app()) as hub_url:
        app = create_app(
            app_key=KEY,
            app_secret=SECRET,
            access_token=TOKEN,
            hub_url=f"{hub_url}/webhooks/douyin",
            push_retry_delays=[],
            rate_limit_per_second=1000,
            rate_limit_burst=1000,
        )
        with run_sandbox(app) as base:
            hub.connector = DouyinConnector(make_config(base), retry=FAST)
            yield hub, base


def operator(base: str, body: Any) -> Any:
    response = httpx.post(f"{base}/_sandbox/events", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_order_push_is_verified_answered_and_deduped_by_msg_id(hub_and_sandbox: tuple[Hub, str]) -> None:
    hub, base = hub_and_sandbox
    order = operator(base, {"type": "order", "sku": "SKU-A", "quantity": 2})
    assert [e.topic for e in hub.accepted] == ["order.created", "order.paid"]
    assert hub.answers == [(200, b'{"code":0,"msg":"success"}')] * 2
    created = hub.accepted[0]
    assert created.event_id == f"douyin-msg:{order['msg_ids'][0]}" and created.payload["data"]["p_id"] == int(
        order["order_id"]
    )
    pushes = httpx.get(f"{base}/_sandbox/pushes").json()["pushes"]
    assert all(p["delivered"] and p["attempts"] == 1 for p in pushes)

    redelivered = httpx.post(f"{base}/_sandbox/pushes/redeliver", json={"index": 0}).json()
    assert redelivered["delivered"] is True  # acknowledged so Douyin stops retrying ...
    assert len(hub.accepted) == 2  # ... but not processed again

    enriched = await hub.connector.enrich(created)  # type: ignore[union-attr]
    line = enriched.payload["order"]["sku_order_list"][0]
    assert (line["code"], line["item_num"]) == ("SKU-A", 2)
    await hub.connector.aclose()  # type: ignore[union-attr]


async def test_batched_push_yields_one_event_per_new_message(hub_and_sandbox: tuple[Hub, str]) -> None:
    hub, base = hub_and_sandbox
    operator(base, {"type": "order", "sku": "SKU-B", "quantity": 1, "batch": True})
    assert len(hub.accepted) == 1 and hub.accepted[0].topic == "batch"
    assert [m["topic"] for m in hub.accepted[0].payload["messages"]] == ["order.created", "order.paid"]
    await hub.connector.aclose()  # type: ignore[union-attr]


def test_tampered_or_foreign_push_is_refused_with_douyins_fail_body(hub_and_sandbox: tuple[Hub, str]) -> None:
    hub, base = hub_and_sandbox
    operator(base, {"type": "order", "sku": "SKU-A", "quantity": 1, "paid": False})
    record = httpx.get(f"{base}/_sandbox/pushes").json()["pushes"][0]
    body = record["body"].encode()
    headers = {"app-id": KEY, "event-sign": record["sign"], "content-type": "application/json"}
    connector = DouyinConnector(make_config(base))
    tampered = body.replace(b'\\"order_status\\":1', b'\\"order_status\\":4')
    assert tampered != body
    for bad_headers, bad_body in ((headers, tampered), ({**headers, "app-id": "123"}, body), ({"app-id": KEY}, body)):
        with pytest.raises(VerificationError) as info:
            connector.verify_push(bad_headers, bad_body, now=time.time())
        assert info.value.refused and info.value.status_code == 401
        ack = connector.push_refusal(info.value)
        assert (ack.status, ack.body) == (401, b'{"code":1,"msg":"fail"}')
    event = connector.verify_push(headers, body, now=time.time())
    connector.push_ack(event)
    with pytest.raises(VerificationError) as dup:  # replayed after acceptance
        connector.verify_push(headers, body, now=time.time())
    assert not dup.value.refused and connector.push_refusal(dup.value).body == b'{"code":0,"msg":"success"}'


async def test_stock_carries_sellable_and_presale_locked(hub_and_sandbox: tuple[Hub, str]) -> None:
    hub, base = hub_and_sandbox
    operator(base, {"type": "stock", "sku": "SKU-A", "qty": 152, "presale_locked": 8})
    assert hub.accepted[-1].topic == "product.changed"
    connector = hub.connector
    assert connector is not None
    assert await connector.read_stock_detail(["SKU-A"]) == {"SKU-A": {"sellable": 152, "presale_locked": 8}}
    page = await connector.poll("stock", None)
    level = next(e for e in page.events if e.payload["sku"] == "SKU-A")
    assert (level.payload["stock_num"], level.payload["prehold_stock_num"]) == (152, 8)
    await connector.aclose()


async def test_expired_token_is_recreated_for_a_self_use_app(hub_and_sandbox: tuple[Hub, str]) -> None:
    _, base = hub_and_sandbox
    saved: list[Mapping[str, Any]] = []
    connector = DouyinConnector(make_config(base, shop_id=SHOP), retry=FAST, on_tokens=saved.append)
    operator(base, {"type": "expire_tokens"})
    assert (await connector.read_stock(["SKU-A"]))["SKU-A"] == 100
    assert saved and saved[0]["access_token"] != TOKEN
    operator(base, {"type": "expire_tokens"})  # now with a refresh token in hand: /token/refresh
    assert (await connector.read_stock(["SKU-A"]))["SKU-A"] == 100
    paths = [e["path"] for e in httpx.get(f"{base}/_sandbox/log").json()["requests"]]
    assert "/token/create" in paths and "/token/refresh" in paths
    await connector.aclose()
