"""TaobaoConnector: TMC messages in (consume + confirm), trades polled by modified window,
stock read and written through TOP.

Listings map our SKU code to TOP ids::

    listings={"SKU-A": {"num_iid": 520000000001, "sku_id": 4200000000001},
              "SKU-C": {"num_iid": 520000000002}}          # an item without SKUs

Stock figures are TOP's ``quantity`` (what ``taobao.item.quantity.update`` sets); units held by
unpaid orders in pay-to-deduct mode are reported separately by ``read_stock_detail``
(``with_hold_quantity``), so writes and reads talk about the same number.

Idempotency: TOP has no idempotency id. ``type=1`` (full) writes are idempotent by nature; a
``type=2`` (incremental) write retried after a lost answer would apply twice. So deltas are sent
without automatic retries except for code 7 (refused before execution), an answer whose outcome
is unknown raises ``ConflictError`` (re-read, then recompute), and a key seen before in this
process returns the earlier result instead of calling TOP again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connectors.base import (
    Capability,
    ConflictError,
    Connector,
    InstanceConfig,
    NotFound,
    Page,
    PollCursor,
    PushedEvent,
    RateLimited,
    RetryPolicy,
    TransientError,
    ValidationError,
    WriteResult,
)

from .client import TopClient, TopSession
from .signing import format_timestamp, parse_timestamp
from .verifier import tmc_event

__all__ = ["TMC_TOPICS", "TaobaoConnector", "TaobaoListing"]

TMC_TOPICS = (
    "taobao_trade_TradeCreate",
    "taobao_trade_TradeBuyerPay",
    "taobao_trade_TradeClose",
    "taobao_trade_TradeSellerShip",
    "taobao_item_ItemStockChanged",
)
TRADE_FIELDS = ("tid,status,type,seller_nick,buyer_nick,created,modified,pay_time,consign_time,end_time,"
                "num,num_iid,payment,total_fee,orders")
MAX_WINDOW = timedelta(days=1)  # taobao.trades.sold.increment.get: start/end at most one day apart


@dataclass(frozen=True, slots=True)
class TaobaoListing:
    sku: str
    num_iid: int
    sku_id: int | None


def listing_for(config: InstanceConfig, sku: str) -> TaobaoListing:
    entry = config.listings.get(sku)
    if not entry or "num_iid" not in entry:
        raise NotFound(f"no Taobao listing (num_iid) configured for SKU {sku!r}", instance=config.name)
    try:
        sku_id = entry.get("sku_id")
        return TaobaoListing(sku, int(entry["num_iid"]), int(sku_id) if sku_id not in (None, "") else None)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"listing for SKU {sku!r} has a non-integer id", instance=config.name) from exc


class TaobaoConnector(Connector):
    """One Taobao/Tmall shop (one TOP session) of one TOP app.

    Credentials: ``app_key``, ``app_secret``, ``access_token`` (TOP ``session``), ``refresh_token``,
    optional ``expires_at`` (epoch ms or ISO). Settings: ``sign_method``, ``timestamp_form``,
    ``gateway_path``, ``token_refresh_margin``, ``tmc_group`` (default ``default``), ``tmc_batch``
    (10..200, default 100), ``page_size`` (trades per page, ≤100, default 100),
    ``poll_overlap_seconds`` (default 60), ``initial_lookback_seconds`` (default 86400).
    """

    platform: ClassVar[str] = "taobao"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.POLL, Capability.READ_STOCK, Capability.WRITE_STOCK, Capability.WRITE_STOCK_DELTA,
        Capability.LIST_ORDERS,
    })
    sandbox_app: ClassVar[str | None] = "connectors.taobao.sandbox:create_app"
    mapping_dir: ClassVar[str | None] = "taobao"
    streams: ClassVar[tuple[str, ...]] = ("tmc", "orders")

    def __init__(
        self,
        config: InstanceConfig,
        *,
        retry: RetryPolicy | None = None,
        on_session: Callable[[TopSession], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(config)
        self._retry = retry
        self._on_session = on_session
        self._client: TopClient | None = None
        self._done: OrderedDict[str, WriteResult] = OrderedDict()

    @property
    def client(self) -> TopClient:
        if self._client is None:
            self._client = TopClient(self.config, retry=self._retry, on_session=self._on_session)
        return self._client

    # -- inbound ----------------------------------------------------------------------------
    async def poll(self, stream: str, cursor: str | None) -> Page:
        """``tmc``: consume queued TMC messages (confirm them with ``confirm`` once durable);
        ``orders``: trades by modified window (``taobao.trades.sold.increment.get``)."""
        if stream == "tmc":
            return await self._poll_tmc(cursor)
        if stream == "orders":
            return await self._poll_orders(cursor)
        raise ValidationError(f"unknown Taobao stream {stream!r}; known: tmc, orders", instance=self.name)

    async def _poll_tmc(self, cursor: str | None) -> Page:
        batch = max(10, min(200, int(self.config.setting("tmc_batch", 100))))
        body = await self.client.call("taobao.tmc.messages.consume",
                                      {"group_name": self.config.setting("tmc_group"), "quantity": batch},
                                      needs_session=False)
        messages = ((body.get("messages") or {}).get("tmc_message")) or []
        events = tuple(tmc_event(m, instance=self.name) for m in messages)
        # TMC keeps the cursor on its side; the one we return is unchanged
        return Page(events=events, next_cursor=cursor, has_more=len(messages) >= batch)

    async def confirm(self, event_ids: Sequence[str]) -> None:
        """``taobao.tmc.messages.confirm``: the hub calls this once the events are durable.
        Unconfirmed messages come back (same id) after TMC's visibility timeout."""
        ids = [str(i) for i in event_ids]
        for bad in (i for i in ids if not i.isdigit()):
            raise ValidationError(f"{bad!r} is not a TMC message id", instance=self.name)
        for start in range(0, len(ids), 200):
            chunk = ids[start:start + 200]
            body = await self.client.call("taobao.tmc.messages.confirm",
                                          {"group_name": self.config.setting("tmc_group"),
                                           "s_message_ids": ",".join(chunk)}, needs_session=False)
            if body.get("is_success") is not True:
                raise TransientError("TMC confirm did not succeed", instance=self.name, detail=str(body)[:200])

    async def _poll_orders(self, cursor: str | None) -> Page:
        """One page of trades changed in a fixed window, read with a paging order that cannot skip.

        The window's upper bound is fixed before the first read. Trades edited meanwhile leave the
        window (their new ``modified`` is later) and shift the pages after them forward, so pages
        are read LAST to first: a shift then only moves unread trades forward into pages still to
        read (a repeat, dropped by key), never past us. Page 1 is read first for the count; if the
        window has more pages, it is read again at the end.
        """
        overlap = timedelta(seconds=float(self.config.setting("poll_overlap_seconds", 60)))
        lookback = timedelta(seconds=float(self.config.setting("initial_lookback_seconds", 86400)))
        page_size = max(1, min(100, int(self.config.setting("page_size", 100))))
        state = PollCursor.loads(cursor)
        now = datetime.now(UTC).replace(microsecond=0)
        if state.since is None and not state.in_window:
            state = PollCursor(since=now - lookback + overlap)
        if not state.in_window:
            assert state.since is not None
            state = state.open(now=min(now, state.since - overlap + MAX_WINDOW))
        since, until = state.bounds(overlap)
        assert since is not None
        page_no = int(state.page_token) if state.page_token else 1
        body = await self.client.call("taobao.trades.sold.increment.get", {
            "fields": TRADE_FIELDS, "start_modified": _top_time(since), "end_modified": _top_time(until),
            "page_no": page_no, "page_size": page_size,
        })
        trades = ((body.get("trades") or {}).get("trade")) or []
        if state.page_token is None:
            pages = -(-int(body.get("total_results") or 0) // page_size)
            next_token = str(pages) if pages > 1 else None
        else:
            next_token = str(page_no - 1) if page_no > 1 else None
        # TOP times have whole-second resolution: the status joins the key so that a trade paid in
        # the second it was created is still a new event
        by_key = {f"trade:{t['tid']}@{t['modified']}#{t.get('status', '')}": t for t in trades}
        items = [(key, parse_timestamp(t["modified"])) for key, t in by_key.items()]
        keep, state = state.advance(items, next_token=next_token, overlap=overlap)
        events = tuple(trade_event(key, by_key[key]) for key in keep)
        caught_up = state.since is not None and state.since >= now
        return Page(events=events, next_cursor=state.dumps(), has_more=state.in_window or not caught_up)

    # -- stock ------------------------------------------------------------------------------
    async def read_stock_detail(self, skus: Sequence[str]) -> dict[str, dict[str, int]]:
        """``{"SKU-A": {"quantity": 100, "with_hold_quantity": 2}}`` via taobao.items.seller.list.get."""
        listings = [listing_for(self.config, sku) for sku in skus]
        num_iids = sorted({x.num_iid for x in listings})
        items: dict[int, dict[str, Any]] = {}
        for start in range(0, len(num_iids), 20):
            chunk = num_iids[start:start + 20]
            body = await self.client.call("taobao.items.seller.list.get", {
                "num_iids": ",".join(map(str, chunk)),
                "fields": "num_iid,num,outer_id,with_hold_quantity,sku"})
            for item in ((body.get("items") or {}).get("item")) or []:
                items[int(item["num_iid"])] = item
        out: dict[str, dict[str, int]] = {}
        for x in listings:
            item = items.get(x.num_iid)
            if item is None:
                raise NotFound(f"Taobao item {x.num_iid} (SKU {x.sku}) not found", instance=self.name)
            if x.sku_id is None:
                out[x.sku] = {"quantity": int(item.get("num") or 0),
                              "with_hold_quantity": int(item.get("with_hold_quantity") or 0)}
                continue
            skus_ = ((item.get("skus") or {}).get("sku")) or []
            match = next((s for s in skus_ if int(s["sku_id"]) == x.sku_id), None)
            if match is None:
                raise NotFound(f"Taobao SKU {x.sku_id} of item {x.num_iid} (SKU {x.sku}) not found",
                               instance=self.name)
            out[x.sku] = {"quantity": int(match.get("quantity") or 0),
                          "with_hold_quantity": int(match.get("with_hold_quantity") or 0)}
        return out

    async def read_stock(self, skus: Sequence[str]) -> dict[str, int]:
        return {sku: row["quantity"] for sku, row in (await self.read_stock_detail(skus)).items()}

    async def write_stock(
        self,
        sku: str,
        quantity: int | None,
        *,
        compare_to: int | None = None,
        delta: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        self._check_stock_write(sku, quantity, compare_to=compare_to, delta=delta)
        if idempotency_key in self._done:
            return self._done[idempotency_key]
        listing = listing_for(self.config, sku)
        params: dict[str, object] = {"num_iid": listing.num_iid, "sku_id": listing.sku_id}
        if quantity is not None:
            body = await self.client.call("taobao.item.quantity.update", {**params, "quantity": quantity, "type": 1})
        else:
            try:
                body = await self.client.call("taobao.item.quantity.update",
                                              {**params, "quantity": delta, "type": 2}, retry_transient=False)
            except RateLimited:
                raise
            except TransientError as exc:
                raise ConflictError(
                    "outcome of TOP type=2 stock increment unknown; re-read stock before retrying",
                    instance=self.name, code="TOP_INCREMENT_OUTCOME_UNKNOWN", detail=str(exc)) from exc
        result = self._result(sku, listing, body, delta, request_id=body.get("request_id"))
        self._done[idempotency_key] = result
        while len(self._done) > 10_000:
            self._done.popitem(last=False)
        return result

    async def write_skus(
        self, num_iid: int, quantities: Mapping[int, int], *, incremental: bool = False
    ) -> dict[int, int]:
        """``taobao.skus.quantity.update`` for up to 20 SKUs of one item; returns sku_id -> quantity."""
        if not quantities or len(quantities) > 20:
            raise ValidationError("write_skus takes 1..20 SKUs", instance=self.name)
        body = await self.client.call(
            "taobao.skus.quantity.update",
            {"num_iid": num_iid, "type": 2 if incremental else 1,
             "skuid_quantities": ";".join(f"{k}:{v}" for k, v in quantities.items())},
            retry_transient=not incremental)
        skus = ((body.get("item") or {}).get("skus") or {}).get("sku") or []
        return {int(s["sku_id"]): int(s["quantity"]) for s in skus}

    def _result(self, sku: str, listing: TaobaoListing, body: Mapping[str, Any], delta: int | None,
                *, request_id: Any) -> WriteResult:
        item = body.get("item") or {}
        if listing.sku_id is None:
            after = int(item.get("num", 0))
        else:
            skus = ((item.get("skus") or {}).get("sku")) or []
            match = next((s for s in skus if int(s["sku_id"]) == listing.sku_id), None)
            if match is None:
                raise ValidationError("TOP answer lacks the written SKU", instance=self.name, detail=str(body)[:200])
            after = int(match["quantity"])
        previous = after - delta if delta is not None else None
        return WriteResult(sku, after, previous=previous, reference=str(request_id) if request_id else None)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _top_time(moment: datetime) -> str:
    return format_timestamp(moment)


def trade_event(key: str, trade: Mapping[str, Any]) -> PushedEvent:
    return PushedEvent(event_id=key, topic=f"trade/{trade.get('status', 'UNKNOWN')}", payload=dict(trade),
                       occurred_at=parse_timestamp(trade["modified"]), source="poll")
