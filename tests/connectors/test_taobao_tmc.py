"""TMC consume/confirm through the connector, redelivery of unconfirmed messages, and trade polling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.base import RetryPolicy, ValidationError
from connectors.taobao import TaobaoConnector
from connectors.taobao.testkit import RunningSandbox, sandbox

FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0.0, max_retry_after=0.05)


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with sandbox(visibility_timeout=120) as running:
        yield running


async def _drain(connector: TaobaoConnector) -> list[Any]:
    events: list[Any] = []
    while True:
        page = await connector.poll("tmc", None)
        events.extend(page.events)
        if not page.has_more:
            return events


async def test_an_order_created_in_the_sandbox_is_consumed(box: RunningSandbox) -> None:
    order = box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-A", "qty": 2, "buyer": "tb_alice"})
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        events = await _drain(connector)
    assert [e.topic for e in events] == ["taobao_trade_TradeCreate"]
    event = events[0]
    content = event.payload["content"]
    assert content["tid"] == order["tid"] and content["buyer_nick"] == "tb_alice"
    assert content["seller_nick"] == "zhongshu-demo" and content["status"] == "WAIT_BUYER_PAY"
    assert event.event_id == str(event.payload["id"]) and event.event_id.isdigit()
    assert event.occurred_at is not None and event.source == "zhongshu-demo"
    assert event.payload["user_id"] > 0 and event.payload["pub_app_key"] == "12345678"


async def test_trade_lifecycle_and_stock_topics(box: RunningSandbox) -> None:
    paid = box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-A", "qty": 1, "paid": True})
    box.operator("/_sandbox/events", {"type": "ship", "tid": paid["tid"]})
    placed = box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-C", "qty": 1})
    box.operator("/_sandbox/events", {"type": "cancel", "tid": placed["tid"]})
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        events = await _drain(connector)
    topics = [(e.topic, e.payload["content"].get("tid") or e.payload["content"].get("num_iid")) for e in events]
    assert topics == [
        ("taobao_trade_TradeCreate", paid["tid"]),
        ("taobao_trade_TradeBuyerPay", paid["tid"]),
        ("taobao_item_ItemStockChanged", 520000000001),  # pay-to-deduct: stock leaves at payment
        ("taobao_trade_TradeSellerShip", paid["tid"]),
        ("taobao_trade_TradeCreate", placed["tid"]),
        ("taobao_item_ItemStockChanged", 520000000002),  # place-to-deduct: stock leaves at order
        ("taobao_trade_TradeClose", placed["tid"]),
        ("taobao_item_ItemStockChanged", 520000000002),  # and comes back on close
    ]
    stock_changes = [e.payload["content"] for e in events if e.topic == "taobao_item_ItemStockChanged"]
    assert stock_changes[0]["sku_id"] == 4200000000001 and stock_changes[0]["sku_num"] == 99
    assert [c["increment"] for c in stock_changes] == [-1, -1, 1]


async def test_unconfirmed_message_is_redelivered_with_the_same_id(box: RunningSandbox) -> None:
    box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-B", "qty": 1})
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        first = await _drain(connector)
        assert len(first) == 1
        assert await _drain(connector) == []  # in flight: invisible until the visibility timeout
        box.operator("/_sandbox/clock", {"advance_seconds": 121})
        second = await _drain(connector)
        assert [e.event_id for e in second] == [first[0].event_id]  # same id: the hub's inbox dedupes it
        assert second[0].payload == first[0].payload
        await connector.confirm([second[0].event_id])
        box.operator("/_sandbox/clock", {"advance_seconds": 121})
        assert await _drain(connector) == []  # confirmed ones never come back
    queue = box.operator("/_sandbox/tmc")
    assert queue["pending"] == [] and queue["confirmed"] == [int(first[0].event_id)]


async def test_confirmed_messages_never_come_back_while_others_do(box: RunningSandbox) -> None:
    for _ in range(3):
        box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-A", "qty": 1})
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        events = await _drain(connector)
        assert len(events) == 3
        await connector.confirm([events[0].event_id, events[2].event_id])
        box.operator("/_sandbox/clock", {"advance_seconds": 121})
        again = await _drain(connector)
        assert [e.event_id for e in again] == [events[1].event_id]
        with pytest.raises(ValidationError):
            await connector.confirm(["not-an-id"])
    pending = box.operator("/_sandbox/tmc")["pending"]
    assert [(p["id"], p["deliveries"]) for p in pending] == [(int(events[1].event_id), 2)]


async def test_consume_is_batched(box: RunningSandbox) -> None:
    for _ in range(12):
        box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-A", "qty": 1})
    async with TaobaoConnector(box.config(tmc_batch=10), retry=FAST) as connector:
        first = await connector.poll("tmc", None)
        assert len(first.events) == 10 and first.has_more
        rest = await connector.poll("tmc", None)
        assert len(rest.events) == 2 and not rest.has_more
    consumes = [e for e in box.operator("/_sandbox/log")["requests"] if e.get("api") == "taobao.tmc.messages.consume"]
    assert "quantity=10" in consumes[0]["body"]


async def test_orders_poll_pages_a_fixed_window_without_losing_trades(box: RunningSandbox) -> None:
    tids = [box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-A", "qty": 1})["tid"] for _ in range(7)]
    async with TaobaoConnector(box.config(page_size=3), retry=FAST) as connector:
        cursor: str | None = None
        seen: list[Any] = []
        pages = 0
        while True:
            page = await connector.poll("orders", cursor)
            pages += 1
            seen.extend(page.events)
            if pages == 2:
                # a trade on an already-read page is edited mid-window: it leaves the window and the
                # pages behind it shift; reading last page first means nothing is skipped
                box.operator("/_sandbox/events", {"type": "pay", "tid": tids[0]})
            cursor = page.next_cursor
            if not page.has_more:
                break
        assert {e.payload["tid"] for e in seen} == set(tids)
        # the edit is seen (in this window if it fell in the window's last second, else in the next one)
        # as its own event: the key carries modified time and status
        later = await connector.poll("orders", cursor)
        paid = [e for e in (*seen, *later.events) if e.payload["tid"] == tids[0]]
        assert [e.payload["status"] for e in paid][-1] == "WAIT_SELLER_SEND_GOODS"
        assert len({e.event_id for e in paid}) == 2
        assert len({e.event_id for e in (*seen, *later.events)}) == 8
    calls = [e for e in box.operator("/_sandbox/log")["requests"] if e.get("api") == "taobao.trades.sold.increment.get"]
    assert "page_no=3" in calls[1]["body"]  # page 1 for the count, then the last page first
    first = json.loads(cursor or "{}")
    assert first["until"] is None and first["since"]


async def test_unknown_stream_is_refused(box: RunningSandbox) -> None:
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        with pytest.raises(ValidationError, match="known: tmc, orders"):
            await connector.poll("refunds", None)


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        ({"topic": "taobao_trade_TradeCreate", "content": "{}"}, "numeric id"),
        ({"id": 1, "content": "{}"}, "no topic"),
        ({"id": 1, "topic": "taobao_trade_TradeCreate", "content": "{not json"}, "not JSON"),
        ({"id": 1, "topic": "taobao_trade_TradeCreate", "content": "[1]"}, "JSON object"),
    ],
)
def test_malformed_tmc_messages_are_refused(message: dict[str, Any], needle: str) -> None:
    from connectors.base import VerificationError
    from connectors.taobao.verifier import tmc_event

    with pytest.raises(VerificationError, match=needle) as caught:
        tmc_event(message)
    assert caught.value.status_code == 422
    ok = tmc_event({"id": 5, "topic": "t", "content": '{"tid":1}', "pub_time": "2024-05-01 10:00:01"})
    assert ok.event_id == "5" and ok.payload["content"] == {"tid": 1} and ok.occurred_at is not None
