"""DouyinConnector: message push in (event-sign, msg_id dedupe), orders/stock polled, stock set
in full or by delta with ``idempotent_id``. Douyin's 可售库存 (``stock_num``) includes presale-locked
units (``prehold_stock_num``); both travel in every stock payload."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    Capability,
    Connector,
    InstanceConfig,
    Page,
    PollCursor,
    PushAck,
    PushedEvent,
    RetryPolicy,
    ValidationError,
    VerificationError,
    WriteResult,
)

from .client import DouyinClient
from .verifier import ACK_BODY, FAIL_BODY, MsgIdMemory, PushMessage, parse_push, verify_push_signature

TOPICS = {
    "100": "order.created",
    "101": "order.paid",
    "102": "order.shipped",
    "103": "order.finished",
    "105": "order.address_changed",
    "106": "order.cancelled",
    "110": "order.paid_pending",
    "200": "refund.requested",
    "206": "refund.succeeded",
    "400": "product.changed",
}
ORDER_TAGS = {"100", "101", "102", "103", "105", "106", "110"}


def _event_for(message: PushMessage) -> PushedEvent:
    occurred = next(
        (
            message.data[k]
            for k in ("update_time", "cancel_time", "pay_time", "create_time")
            if isinstance(message.data.get(k), int)
        ),
        None,
    )
    return PushedEvent(
        event_id=f"douyin-msg:{message.msg_id}",
        topic=TOPICS.get(message.tag, f"tag.{message.tag}"),
        payload={"tag": message.tag, "msg_id": message.msg_id, "data": message.data},
        occurred_at=datetime.fromtimestamp(occurred, UTC) if occurred else None,
        source="push",
    )


class DouyinConnector(Connector):
    """One Douyin shop.

    Listings: ``{"SKU-A": {"sku_id": 1740000000001}}``; without one, the SKU is looked up by its
    merchant code (``code``). Settings: ``page_size`` (≤ 100, default 50), ``poll_overlap_seconds``
    (default 120), ``poll_initial_lookback_seconds`` (default 86400), plus ``DouyinClient``'s.
    """

    platform: ClassVar[str] = "douyin"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PUSH,
            Capability.POLL,
            Capability.LIST_ORDERS,
            Capability.READ_STOCK,
            Capability.WRITE_STOCK,
            Capability.WRITE_STOCK_DELTA,
        }
    )
    sandbox_app: ClassVar[str | None] = "connectors.douyin.sandbox:create_app"
    mapping_dir: ClassVar[str | None] = "douyin"
    streams: ClassVar[tuple[str, ...]] = ("orders", "stock")

    def __init__(
        self,
        config: InstanceConfig,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_tokens: Callable[[Mapping[str, Any]], None] | None = None,
        memory: MsgIdMemory | None = None,
    ) -> None:
        super().__init__(config)
        self._retry, self._clock, self._on_tokens = retry, clock, on_tokens
        self._client: DouyinClient | None = None
        self.memory = memory or MsgIdMemory()

    @property
    def client(self) -> DouyinClient:
        if self._client is None:
            self._client = DouyinClient(self.config, retry=self._retry, clock=self._clock, on_tokens=self._on_tokens)
        return self._client

    # -- push ----------------------------------------------------------------------------------
    def verify_push_messages(self, headers: Mapping[str, str], body: bytes, *, now: float) -> list[PushedEvent]:
        """Every message of a verified push not seen before (one event per ``msg_id``)."""
        verify_push_signature(
            headers, body, app_key=self.config.credential("app_key"), app_secret=self.config.credential("app_secret")
        )
        return [_event_for(m) for m in parse_push(body) if not self.memory.seen(m.msg_id, now)]

    def verify_push(self, headers: Mapping[str, str], body: bytes, *, now: float) -> PushedEvent:
        """The push as one event: the message itself, or a ``batch`` of its new messages.

        A push whose messages were all accepted before raises ``VerificationError(200, refused=False)``:
        answer it with ``push_refusal`` (Douyin's success body) and process nothing.
        """
        events = self.verify_push_messages(headers, body, now=now)
        if not events:
            raise VerificationError(
                200, "every msg_id in this push was already accepted", refused=False, instance=self.name
            )
        if len(events) == 1:
            return events[0]
        ids = sorted(e.payload["msg_id"] for e in events)
        return PushedEvent(
            event_id="douyin-push:" + hashlib.sha256(",".join(ids).encode()).hexdigest()[:32],
            topic="batch",
            payload={"messages": [{"topic": e.topic, **e.payload} for e in events]},
            occurred_at=max((e.occurred_at for e in events if e.occurred_at), default=None),
            source="push",
        )

    def push_ack(self, event: PushedEvent) -> PushAck:
        """Douyin's success answer; the event's msg_ids are remembered only now that it is durable."""
        if event.topic == "batch":
            ids = [m["msg_id"] for m in event.payload["messages"]]
        else:
            ids = [event.payload["msg_id"]]
        self.memory.remember(ids, self._clock())
        return PushAck(200, ACK_BODY, "application/json")

    def push_refusal(self, error: VerificationError) -> PushAck:
        if not error.refused:
            return PushAck(200, ACK_BODY, "application/json")
        return PushAck(error.status_code, FAIL_BODY, "application/json")

    async def fetch_order(self, order_id: str) -> dict[str, Any]:
        """``order.orderDetail``: the full order a push only names (``p_id``)."""
        data = await self.client.call("/order/orderDetail", {"shop_order_id": str(order_id)})
        return dict(data.get("shop_order_detail") or {})

    async def enrich(self, event: PushedEvent) -> PushedEvent:
        """Add ``payload["order"]`` (the order detail) to an order push; other events pass unchanged."""
        if event.topic == "batch" or event.payload.get("tag") not in ORDER_TAGS:
            return event
        order = await self.fetch_order(str(event.payload["data"]["p_id"]))
        return replace(event, payload={**event.payload, "order": order})

    # -- poll ----------------------------------------------------------------------------------
    async def poll(self, stream: str, cursor: str | None) -> Page:
        if stream == "orders":
            return await self._poll_orders(cursor)
        if stream == "stock":
            return await self._poll_stock()
        raise ValidationError(f"unknown Douyin stream {stream!r}; known: orders, stock", instance=self.name)

    async def _poll_orders(self, cursor: str | None) -> Page:
        """Orders by update_time, keyset-paged like JD's (see ``connectors.jd.poller``)."""
        overlap = timedelta(seconds=float(self.config.setting("poll_overlap_seconds", 120)))
        size = int(self.config.setting("page_size", 50))
        state = PollCursor.loads(cursor).open(now=datetime.fromtimestamp(int(self._clock()), UTC))
        since, until = state.bounds(overlap)
        if since is None:
            since = until - timedelta(seconds=float(self.config.setting("poll_initial_lookback_seconds", 86400)))
        token = (
            json.loads(state.page_token)
            if state.page_token
            else {"from": int(since.timestamp()), "page": 0, "skip": []}
        )
        data = await self.client.call(
            "/order/searchList",
            {
                "update_time_start": token["from"],
                "update_time_end": int(until.timestamp()),
                "order_by": "update_time",
                "order_asc": True,
                "page": token["page"],
                "size": size,
            },
        )
        orders = list(data.get("shop_order_list") or [])

        def key(o: dict[str, Any]) -> str:
            return f"douyin-order:{o['order_id']}@{o['update_time']}#{o.get('order_status', '')}"

        following = None
        if len(orders) >= size:
            last = int(orders[-1]["update_time"])
            if last == token["from"]:
                following = {"from": last, "page": token["page"] + 1, "skip": token["skip"] + [key(o) for o in orders]}
            else:
                following = {"from": last, "page": 0, "skip": [key(o) for o in orders if int(o["update_time"]) == last]}
        fresh = [o for o in orders if key(o) not in token["skip"]]
        items = [(key(o), datetime.fromtimestamp(int(o["update_time"]), UTC)) for o in fresh]
        keep, state = state.advance(items, next_token=json.dumps(following) if following else None, overlap=overlap)
        by_key = {key(o): o for o in fresh}
        events = tuple(
            PushedEvent(
                event_id=k,
                topic=_order_topic(by_key[k]),
                payload=by_key[k],
                occurred_at=datetime.fromtimestamp(int(by_key[k]["update_time"]), UTC),
                source="poll",
            )
            for k in keep
        )
        return Page(events=events, next_cursor=state.dumps(), has_more=state.in_window)

    async def _poll_stock(self) -> Page:
        events = []
        for sku in self.config.listings:
            data = await self.client.call("/sku/stockNum", self._sku_ref(sku))
            payload = {"sku": sku, **data}
            events.append(
                PushedEvent(
                    event_id=f"douyin-stock:{data.get('sku_id')}@{data.get('stock_num')}/{data.get('prehold_stock_num')}",
                    topic="stock.level",
                    payload=payload,
                    occurred_at=datetime.fromtimestamp(self._clock(), UTC),
                    source="poll",
                )
            )
        return Page(events=tuple(events), next_cursor=None, has_more=False)

    # -- stock ---------------------------------------------------------------------------------
    def _sku_ref(self, sku: str) -> dict[str, Any]:
        entry = self.config.listings.get(sku) or {}
        if entry.get("sku_id"):
            return {"sku_id": int(entry["sku_id"])}
        return {"code": str(entry.get("code", sku))}

    async def read_stock_detail(self, skus: Sequence[str]) -> dict[str, dict[str, int]]:
        """Both figures per SKU: ``sellable`` (可售 stock_num, incl. presale-locked) and ``presale_locked``."""
        out: dict[str, dict[str, int]] = {}
        for sku in skus:
            data = await self.client.call("/sku/stockNum", self._sku_ref(sku))
            out[sku] = {
                "sellable": int(data.get("stock_num") or 0),
                "presale_locked": int(data.get("prehold_stock_num") or 0),
            }
        return out

    async def read_stock(self, skus: Sequence[str]) -> dict[str, int]:
        return {sku: level["sellable"] for sku, level in (await self.read_stock_detail(skus)).items()}

    async def write_stock(
        self,
        sku: str,
        quantity: int | None,
        *,
        compare_to: int | None = None,
        delta: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        """Full set (``incremental=false``) or delta (``incremental=true`` + ``idempotent_id``)."""
        self._check_stock_write(sku, quantity, compare_to=compare_to, delta=delta)
        params: dict[str, Any] = self._sku_ref(sku)
        if quantity is not None:
            params.update(stock_num=quantity, incremental=False)
        else:
            idem = (
                idempotency_key if len(idempotency_key) <= 64 else hashlib.sha256(idempotency_key.encode()).hexdigest()
            )
            params.update(stock_num=delta, incremental=True, idempotent_id=idem)
        answer = await self.client.call("/sku/syncStock", params)
        return WriteResult(sku, quantity, applied=not answer.duplicate, reference=idempotency_key)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _order_topic(order: dict[str, Any]) -> str:
    return {1: "order.created", 2: "order.paid", 3: "order.shipped", 4: "order.cancelled", 5: "order.finished"}.get(
        int(order.get("order_status", 0)), "order.updated"
    )
