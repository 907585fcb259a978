"""JdConnector: orders polled by modified time, stock read and set (full quantity) per SKU."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    Capability,
    Connector,
    InstanceConfig,
    NotFound,
    Page,
    PollCursor,
    PushedEvent,
    RetryPolicy,
    ValidationError,
    WriteResult,
)

from .client import JdClient, listing_sku_id
from .poller import PageToken, first_token, next_token, order_key, window_end
from .signing import format_timestamp, parse_timestamp

ORDER_SEARCH = "jingdong.pop.order.search"
STOCK_READ = "jingdong.stock.read.findSkuStock"
STOCK_WRITE = "jingdong.stock.write.updateSkuStock"


class JdConnector(Connector):
    """One JD POP shop.

    Listings: ``{"SKU-A": {"sku_id": 100001}}``. Settings: ``page_size`` (orders per page, ≤ 100,
    default 50), ``poll_overlap_seconds`` (default 120), ``poll_initial_lookback_seconds`` (first
    window, default 86400), ``order_states`` (comma list; default all), plus ``JdClient``'s settings.
    """

    platform: ClassVar[str] = "jd"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.POLL, Capability.LIST_ORDERS, Capability.READ_STOCK, Capability.WRITE_STOCK}
    )
    sandbox_app: ClassVar[str | None] = "connectors.jd.sandbox:create_app"
    mapping_dir: ClassVar[str | None] = "jd"
    streams: ClassVar[tuple[str, ...]] = ("orders",)

    def __init__(
        self,
        config: InstanceConfig,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_tokens: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._retry, self._clock, self._on_tokens = retry, clock, on_tokens
        self._client: JdClient | None = None

    @property
    def client(self) -> JdClient:
        if self._client is None:
            self._client = JdClient(self.config, retry=self._retry, clock=self._clock, on_tokens=self._on_tokens)
        return self._client

    # -- orders --------------------------------------------------------------------------------
    async def poll(self, stream: str, cursor: str | None) -> Page:
        """One page of orders modified in the open window; save ``next_cursor`` once durable."""
        if stream != "orders":
            raise ValidationError(f"unknown JD stream {stream!r}; known: orders", instance=self.name)
        overlap = timedelta(seconds=float(self.config.setting("poll_overlap_seconds", 120)))
        page_size = int(self.config.setting("page_size", 50))
        state = PollCursor.loads(cursor)
        now = datetime.fromtimestamp(int(self._clock()), UTC)
        state = state.open(now=window_end(state.since, now))
        since, until = state.bounds(overlap)
        if since is None:
            since = until - timedelta(seconds=float(self.config.setting("poll_initial_lookback_seconds", 86400)))
        token = PageToken.loads(state.page_token) if state.page_token else first_token(since)
        business: dict[str, Any] = {
            "start_date": token.start,
            "end_date": format_timestamp(until),
            "dateType": "0",  # modified time
            "sortType": "0",  # ascending
            "page": token.page,
            "page_size": page_size,
        }
        if self.config.setting("order_states"):
            business["order_state"] = str(self.config.setting("order_states"))
        payload = await self.client.call(ORDER_SEARCH, business)
        result = payload.get("searchorderinfo_result") or {}
        orders: list[dict[str, Any]] = list(result.get("orderInfoList") or [])
        following = next_token(token, orders, page_size)
        fresh = [o for o in orders if order_key(o) not in token.skip]
        items = [(order_key(o), parse_timestamp(str(o["modified"]))) for o in fresh]
        keep, state = state.advance(items, next_token=following.dumps() if following else None, overlap=overlap)
        by_key = {order_key(o): o for o in fresh}
        events = tuple(_order_event(by_key[key]) for key in keep)
        return Page(events=events, next_cursor=state.dumps(), has_more=state.in_window)

    # -- stock ---------------------------------------------------------------------------------
    async def read_stock(self, skus: Sequence[str]) -> dict[str, int]:
        levels: dict[str, int] = {}
        for sku in skus:
            sku_id = listing_sku_id(self.config, sku)
            payload = await self.client.call(STOCK_READ, {"skuId": sku_id})
            stocks = payload.get("skuStocks") or []
            match = next((s for s in stocks if int(s.get("skuId", -1)) == sku_id), None)
            if match is None:
                raise NotFound(f"JD has no stock record for skuId {sku_id}", instance=self.name)
            levels[sku] = int(match.get("stockNum") or 0)
        return levels

    async def write_stock(
        self,
        sku: str,
        quantity: int | None,
        *,
        compare_to: int | None = None,
        delta: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        """Set the full quantity (JD has no delta or compare-and-set write; a full set is idempotent)."""
        self._check_stock_write(sku, quantity, compare_to=compare_to, delta=delta)
        assert quantity is not None  # JD declares no delta writes, so the check refused one
        await self.client.call(STOCK_WRITE, {"skuId": listing_sku_id(self.config, sku), "stockNum": quantity})
        return WriteResult(sku, quantity, applied=True, reference=idempotency_key)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _order_event(order: dict[str, Any]) -> PushedEvent:
    state = str(order.get("orderState", ""))
    topic = {
        "TRADE_CANCELED": "order.cancelled",
        "WAIT_SELLER_STOCK_OUT": "order.paid",
        "WAIT_GOODS_RECEIVE_CONFIRM": "order.shipped",
        "FINISHED_L": "order.finished",
    }.get(state, "order.updated")
    return PushedEvent(
        event_id=order_key(order),
        topic=topic,
        payload=order,
        occurred_at=parse_timestamp(str(order["modified"])),
        source="poll",
    )
