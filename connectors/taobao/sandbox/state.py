"""In-memory state of the TOP sandbox: sessions, items/SKUs, trades, the TMC queue, the clock.

Kept free of HTTP so the gateway handlers stay thin. Every time comes from ``SandboxClock``
(wall clock + an offset an operator may advance), so session expiry, rate-limit bans and the TMC
visibility timeout can be exercised deterministically without sleeping.

Stock model (TOP's, per SKU): ``quantity`` is the listed stock; ``with_hold_quantity`` is stock held
by unpaid orders when the item deducts stock at payment (付款减库存). Buyers can order at most
``quantity - with_hold_quantity``. In place-to-deduct mode (拍下减库存) ``quantity`` drops when the
order is placed and nothing is held.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.taobao.signing import format_timestamp
from connectors.testing.operator import Faults, RequestLog

TRADE_TOPICS = (
    "taobao_trade_TradeCreate",
    "taobao_trade_TradeBuyerPay",
    "taobao_trade_TradeClose",
    "taobao_trade_TradeSellerShip",
)
STOCK_TOPIC = "taobao_item_ItemStockChanged"


class SandboxError(Exception):
    """A business error to answer as a TOP ``error_response`` (code 15 unless told)."""

    def __init__(self, sub_code: str, sub_msg: str, *, code: int = 15, msg: str = "Remote service error") -> None:
        super().__init__(sub_msg)
        self.code = code
        self.msg = msg
        self.sub_code = sub_code
        self.sub_msg = sub_msg


class SandboxClock:
    """Wall clock plus an operator-controlled offset (POST /_sandbox/clock)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self.frozen_at: datetime | None = None

    def now(self) -> datetime:
        if self.frozen_at is not None:
            return self.frozen_at + self.offset
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def freeze(self, frozen: bool) -> None:
        """Stop (or restart) the clock so per-second limits can be tested without races."""
        if frozen and self.frozen_at is None:
            self.frozen_at = datetime.now(UTC)
        elif not frozen and self.frozen_at is not None:
            self.offset += self.frozen_at - datetime.now(UTC)
            self.frozen_at = None


@dataclass
class Session:
    """One shop's authorisation: access token (TOP ``session``) and refresh token."""

    user_id: int
    nick: str
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime


@dataclass
class Sku:
    sku_id: int
    num_iid: int
    outer_id: str
    quantity: int
    with_hold_quantity: int = 0
    price: str = "99.00"
    properties: str = "1627207:28341"
    properties_name: str = "1627207:28341:颜色分类:黑色"
    modified: str = ""
    created: str = ""


@dataclass
class Item:
    num_iid: int
    title: str
    outer_id: str
    nick: str
    skus: dict[int, Sku] = field(default_factory=dict)
    quantity: int = 0  # item-level stock, used only when the item has no SKUs
    with_hold_quantity: int = 0
    sub_stock: int = 1  # 1 = pay-to-deduct (付款减库存), 0 = place-to-deduct (拍下减库存)
    modified: str = ""

    @property
    def num(self) -> int:
        return sum(s.quantity for s in self.skus.values()) if self.skus else self.quantity


@dataclass
class Trade:
    tid: int
    oid: int
    seller_nick: str
    buyer_nick: str
    num_iid: int
    sku_id: int | None
    outer_sku_id: str
    title: str
    num: int
    price: str
    status: str
    pay_to_deduct: bool
    created: str
    modified: str
    modified_at: datetime
    pay_time: str | None = None
    consign_time: str | None = None
    end_time: str | None = None

    def as_top(self) -> dict[str, Any]:
        """The trade as ``taobao.trades.sold.*`` returns it (non-simplified JSON)."""
        payment = f"{float(self.price) * self.num:.2f}"
        order: dict[str, Any] = {
            "oid": self.oid,
            "num_iid": self.num_iid,
            "num": self.num,
            "outer_sku_id": self.outer_sku_id,
            "price": self.price,
            "payment": payment,
            "total_fee": payment,
            "status": self.status,
            "title": self.title,
            "sku_properties_name": "颜色分类:黑色",
        }
        if self.sku_id is not None:
            order["sku_id"] = str(self.sku_id)  # TOP returns Order.sku_id as a string
        trade: dict[str, Any] = {
            "tid": self.tid,
            "status": self.status,
            "type": "fixed",
            "seller_nick": self.seller_nick,
            "buyer_nick": self.buyer_nick,
            "created": self.created,
            "modified": self.modified,
            "num": self.num,
            "num_iid": self.num_iid,
            "payment": payment,
            "total_fee": payment,
            "orders": {"order": [order]},
        }
        for key in ("pay_time", "consign_time", "end_time"):
            value = getattr(self, key)
            if value:
                trade[key] = value
        return trade


@dataclass
class TmcMessage:
    id: int
    topic: str
    content: str
    pub_time: str
    pub_app_key: str
    user_id: int
    user_nick: str
    visible_at: datetime
    deliveries: int = 0

    def as_top(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topic": self.topic,
            "content": self.content,
            "pub_time": self.pub_time,
            "pub_app_key": self.pub_app_key,
            "user_id": self.user_id,
            "user_nick": self.user_nick,
        }


class SandboxState:
    """Everything the sandbox remembers; one lock guards it (handlers are short)."""

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        visibility_timeout: float,
        calls_per_second: int,
        ban_seconds: int,
        session_ttl: float,
    ) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.clock = SandboxClock()
        self.lock = threading.RLock()
        self.visibility_timeout = timedelta(seconds=visibility_timeout)
        self.calls_per_second = calls_per_second
        self.default_ban_seconds = ban_seconds
        self.fault_ban_seconds = ban_seconds
        self.session_ttl = timedelta(seconds=session_ttl)
        self.sessions: dict[str, Session] = {}
        self.refresh_tokens: dict[str, Session] = {}
        self.items: dict[int, Item] = {}
        self.trades: dict[int, Trade] = {}
        self.tmc: dict[int, TmcMessage] = {}
        self.tmc_confirmed: set[int] = set()
        self.faults = Faults()
        self.log = RequestLog()
        self.ban_until: datetime | None = None
        self.window_second: int = -1
        self.window_calls: int = 0
        self._ids = itertools.count(1)
        self._tid = itertools.count(3_800_000_000_000_001)
        self._msg = itertools.count(7_000_000_000_001)

    # -- time -------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def stamp(self) -> str:
        return format_timestamp(self.now())

    # -- sessions ---------------------------------------------------------------------------
    def add_session(
        self, nick: str, *, user_id: int | None = None, access_token: str | None = None,
        refresh_token: str | None = None, expires_in: float | None = None,
    ) -> Session:
        with self.lock:
            now = self.now()
            ttl = timedelta(seconds=expires_in) if expires_in is not None else self.session_ttl
            session = Session(
                user_id=user_id or 2_200_000_000 + next(self._ids),
                nick=nick,
                access_token=access_token or "6201" + secrets.token_hex(20),
                refresh_token=refresh_token or "6202" + secrets.token_hex(20),
                expires_at=now + ttl,
                refresh_expires_at=now + max(ttl, timedelta(days=30)),
            )
            self.sessions[session.access_token] = session
            self.refresh_tokens[session.refresh_token] = session
            return session

    def session_for(self, token: str) -> Session | None:
        session = self.sessions.get(token)
        if session is None or session.expires_at <= self.now():
            return None
        return session

    def refresh(self, refresh_token: str) -> Session:
        with self.lock:
            old = self.refresh_tokens.get(refresh_token)
            if old is None or old.refresh_expires_at <= self.now():
                raise SandboxError("invalid-refresh-token", "refresh_token is invalid or expired",
                                   code=15, msg="Remote service error")
            self.sessions.pop(old.access_token, None)
            self.refresh_tokens.pop(refresh_token, None)
            return self.add_session(old.nick, user_id=old.user_id)

    # -- rate limit -------------------------------------------------------------------------
    def rate_limit(self) -> int | None:
        """Seconds of ban left if this call is refused with code 7, else None (call counted)."""
        with self.lock:
            now = self.now()
            if self.ban_until is not None and now < self.ban_until:
                return max(1, int((self.ban_until - now).total_seconds() + 0.999))
            second = int(now.timestamp())
            if second != self.window_second:
                self.window_second, self.window_calls = second, 0
            self.window_calls += 1
            if self.calls_per_second and self.window_calls > self.calls_per_second:
                self.ban_until = now + timedelta(seconds=self.default_ban_seconds)
                return self.default_ban_seconds
            return None

    # -- catalogue --------------------------------------------------------------------------
    def add_item(
        self, *, num_iid: int, title: str, outer_id: str, nick: str,
        skus: list[dict[str, Any]] | None = None, quantity: int = 0, sub_stock: int = 1,
    ) -> Item:
        with self.lock:
            stamp = self.stamp()
            item = Item(num_iid=num_iid, title=title, outer_id=outer_id, nick=nick,
                        quantity=quantity, sub_stock=sub_stock, modified=stamp)
            for spec in skus or []:
                sku = Sku(sku_id=int(spec["sku_id"]), num_iid=num_iid, outer_id=str(spec["outer_id"]),
                          quantity=int(spec.get("quantity", 0)), created=stamp, modified=stamp)
                item.skus[sku.sku_id] = sku
            self.items[num_iid] = item
            return item

    def find_by_outer_id(self, outer_id: str) -> tuple[Item, Sku | None]:
        for item in self.items.values():
            for sku in item.skus.values():
                if sku.outer_id == outer_id:
                    return item, sku
            if not item.skus and item.outer_id == outer_id:
                return item, None
        raise SandboxError("isv.item-not-exist", f"no item or SKU with outer_id {outer_id}")

    def item(self, num_iid: int, nick: str | None = None) -> Item:
        item = self.items.get(num_iid)
        if item is None or (nick is not None and item.nick != nick):
            raise SandboxError("isv.item-not-exist", f"商品id对应的商品不存在 num_iid={num_iid}",
                               code=15)
        return item

    def sku_of(self, item: Item, sku_id: int) -> Sku:
        sku = item.skus.get(sku_id)
        if sku is None:
            raise SandboxError("isv.item-sku-not-exist", f"sku_id {sku_id} is not a SKU of item {item.num_iid}")
        return sku

    # -- stock writes -----------------------------------------------------------------------
    def set_quantity(self, item: Item, sku: Sku | None, quantity: int, mode: int, *, clamp: bool) -> None:
        """Apply a full (mode 1) or incremental (mode 2) write; publish ItemStockChanged."""
        with self.lock:
            current = sku.quantity if sku else item.quantity
            if mode == 1:
                if quantity < 0:
                    raise SandboxError("isv.invalid-parameter", "quantity must be >= 0 when type=1")
                new = quantity
            else:
                new = current + quantity
                if new < 0:
                    if not clamp:
                        raise SandboxError("isv.item-quantity-update-failed",
                                           f"stock would become {new}; type=2 may not take it below 0")
                    new = 0
            stamp = self.stamp()
            if sku:
                sku.quantity, sku.modified = new, stamp
            else:
                item.quantity = new
            item.modified = stamp
            self.publish_stock_changed(item, sku, increment=new - current)

    def publish_stock_changed(self, item: Item, sku: Sku | None, *, increment: int) -> None:
        content: dict[str, Any] = {"num_iid": item.num_iid, "nick": item.nick, "num": item.num,
                                   "increment": increment, "changed_fields": "num"}
        if sku is not None:
            content.update(sku_id=sku.sku_id, sku_num=sku.quantity, outer_sku_id=sku.outer_id)
        self.enqueue(STOCK_TOPIC, content, item.nick)

    # -- trades -----------------------------------------------------------------------------
    def _touch(self, trade: Trade) -> None:
        trade.modified_at = self.now()
        trade.modified = format_timestamp(trade.modified_at)

    def create_trade(self, *, outer_id: str, num: int, buyer_nick: str, pay_to_deduct: bool | None,
                     paid: bool) -> Trade:
        with self.lock:
            item, sku = self.find_by_outer_id(outer_id)
            holder = sku or item
            sellable = holder.quantity - holder.with_hold_quantity
            if num <= 0:
                raise SandboxError("isv.invalid-parameter", "num must be >= 1")
            if num > sellable:
                raise SandboxError("isv.trade-stock-not-enough",
                                   f"only {sellable} sellable for {outer_id}, {num} ordered")
            ptd = bool(item.sub_stock) if pay_to_deduct is None else pay_to_deduct
            if ptd:
                holder.with_hold_quantity += num
            else:
                holder.quantity -= num
            now = self.now()
            stamp = format_timestamp(now)
            tid = next(self._tid)
            trade = Trade(
                tid=tid, oid=tid, seller_nick=item.nick, buyer_nick=buyer_nick, num_iid=item.num_iid,
                sku_id=sku.sku_id if sku else None, outer_sku_id=outer_id, title=item.title, num=num,
                price=sku.price if sku else "99.00", status="WAIT_BUYER_PAY", pay_to_deduct=ptd,
                created=stamp, modified=stamp, modified_at=now,
            )
            self.trades[tid] = trade
            self.enqueue("taobao_trade_TradeCreate", self._trade_content(trade), item.nick)
            if not ptd:
                self.publish_stock_changed(item, sku, increment=-num)
            if paid:
                self.pay_trade(tid)
            return trade

    def _trade_content(self, trade: Trade) -> dict[str, Any]:
        return {
            "buyer_nick": trade.buyer_nick,
            "payment": f"{float(trade.price) * trade.num:.2f}",
            "oid": trade.oid,
            "tid": trade.tid,
            "type": "guarantee_trade",
            "seller_nick": trade.seller_nick,
            "status": trade.status,
        }

    def trade(self, tid: int) -> Trade:
        trade = self.trades.get(tid)
        if trade is None:
            raise SandboxError("isv.trade-not-exist", f"trade {tid} does not exist")
        return trade

    def _holder(self, trade: Trade) -> tuple[Item, Sku | None]:
        item = self.items[trade.num_iid]
        return item, (item.skus[trade.sku_id] if trade.sku_id is not None else None)

    def pay_trade(self, tid: int) -> Trade:
        with self.lock:
            trade = self.trade(tid)
            if trade.status != "WAIT_BUYER_PAY":
                raise SandboxError("isv.trade-status-error", f"trade {tid} is {trade.status}, not WAIT_BUYER_PAY")
            item, sku = self._holder(trade)
            holder = sku or item
            if trade.pay_to_deduct:
                holder.with_hold_quantity -= trade.num
                holder.quantity -= trade.num
            trade.status = "WAIT_SELLER_SEND_GOODS"
            self._touch(trade)
            trade.pay_time = trade.modified
            self.enqueue("taobao_trade_TradeBuyerPay", self._trade_content(trade), trade.seller_nick)
            if trade.pay_to_deduct:
                self.publish_stock_changed(item, sku, increment=-trade.num)
            return trade

    def ship_trade(self, tid: int) -> Trade:
        with self.lock:
            trade = self.trade(tid)
            if trade.status != "WAIT_SELLER_SEND_GOODS":
                raise SandboxError("isv.trade-status-error", f"trade {tid} is {trade.status}, not paid")
            trade.status = "WAIT_BUYER_CONFIRM_GOODS"
            self._touch(trade)
            trade.consign_time = trade.modified
            self.enqueue("taobao_trade_TradeSellerShip", self._trade_content(trade), trade.seller_nick)
            return trade

    def close_trade(self, tid: int) -> Trade:
        """Close an unpaid (TRADE_CLOSED_BY_TAOBAO) or paid-not-shipped (TRADE_CLOSED) trade."""
        with self.lock:
            trade = self.trade(tid)
            item, sku = self._holder(trade)
            holder = sku or item
            before = holder.quantity
            if trade.status == "WAIT_BUYER_PAY":
                if trade.pay_to_deduct:
                    holder.with_hold_quantity -= trade.num
                else:
                    holder.quantity += trade.num
                trade.status = "TRADE_CLOSED_BY_TAOBAO"
            elif trade.status == "WAIT_SELLER_SEND_GOODS":
                holder.quantity += trade.num
                trade.status = "TRADE_CLOSED"
            else:
                raise SandboxError("isv.trade-status-error", f"trade {tid} is {trade.status}; cannot close")
            self._touch(trade)
            trade.end_time = trade.modified
            self.enqueue("taobao_trade_TradeClose", self._trade_content(trade), trade.seller_nick)
            if holder.quantity != before:
                self.publish_stock_changed(item, sku, increment=holder.quantity - before)
            return trade

    # -- TMC --------------------------------------------------------------------------------
    def user_id_of(self, nick: str) -> int:
        for session in self.sessions.values():
            if session.nick == nick:
                return session.user_id
        return 0

    def enqueue(self, topic: str, content: dict[str, Any], nick: str) -> TmcMessage:
        with self.lock:
            now = self.now()
            message = TmcMessage(
                id=next(self._msg), topic=topic,
                content=json.dumps(content, ensure_ascii=False, separators=(",", ":")),
                pub_time=format_timestamp(now), pub_app_key=self.app_key,
                user_id=self.user_id_of(nick), user_nick=nick, visible_at=now,
            )
            self.tmc[message.id] = message
            return message

    def consume(self, quantity: int) -> list[TmcMessage]:
        """Hand out up to ``quantity`` visible messages; they stay in flight until confirmed or
        the visibility timeout passes, after which they are handed out again with the same id."""
        with self.lock:
            now = self.now()
            batch = [m for m in self.tmc.values() if m.visible_at <= now][:quantity]
            for message in batch:
                message.visible_at = now + self.visibility_timeout
                message.deliveries += 1
            return batch

    def confirm(self, ids: list[int]) -> None:
        with self.lock:
            for message_id in ids:
                if self.tmc.pop(message_id, None) is not None:
                    self.tmc_confirmed.add(message_id)
