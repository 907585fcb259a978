"""In-memory Douyin shop: SKUs (可售 stock_num incl. presale-locked, prehold), orders, tokens. Pure."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from connectors.testing.tokens import TokenIssuer

# order_status values of order.searchList / push payloads
UNPAID, PAID, SHIPPED, CANCELLED, FINISHED = 1, 2, 3, 4, 5
STATUS_DESC = {UNPAID: "待支付", PAID: "待发货", SHIPPED: "已发货", CANCELLED: "已取消", FINISHED: "已完成"}


@dataclass
class Sku:
    sku_id: int
    product_id: int
    code: str  # merchant code (商家编码), our SKU
    stock_num: int  # 可售库存 — Douyin counts presale-locked units in it
    prehold: int = 0  # units locked by presale orders (part of stock_num)

    def stock_wire(self) -> dict[str, Any]:
        """``sku.stockNum`` data."""
        return {
            "sku_id": self.sku_id,
            "out_sku_id": 0,
            "code": self.code,
            "sku_type": 0,
            "stock_num": self.stock_num,
            "prehold_stock_num": self.prehold,
            "prom_stock_num": 0,
            "step_stock_num": 0,
            "prehold_step_stock_num": 0,
            "prom_step_stock_num": 0,
            "stock_num_map": {},
            "prehold_stock_map": {},
            "ship_rule_map": {},
            "normal_stock_num": self.stock_num,
            "channel_stock_num": 0,
        }


@dataclass
class Order:
    order_id: str
    shop_id: int
    status: int
    presale: bool
    lines: list[tuple[Sku, int, str]]  # sku, qty, sub order id
    create_time: int
    update_time: int
    pay_time: int = 0

    @property
    def s_ids(self) -> list[int]:
        return [int(sub) for _, _, sub in self.lines]

    def to_wire(self) -> dict[str, Any]:
        """One ``shop_order_list`` entry of ``order.searchList``."""
        return {
            "order_id": self.order_id,
            "shop_id": self.shop_id,
            "order_status": self.status,
            "order_status_desc": STATUS_DESC[self.status],
            "order_type": 0,
            "order_phase_list": [{"phase": 1}] if self.presale else [],
            "create_time": self.create_time,
            "update_time": self.update_time,
            "pay_time": self.pay_time,
            "order_amount": sum(q * 9900 for _, q, _ in self.lines),
            "pay_amount": sum(q * 9900 for _, q, _ in self.lines),
            "sku_order_list": [
                {
                    "order_id": sub,
                    "parent_order_id": self.order_id,
                    "sku_id": sku.sku_id,
                    "product_id": sku.product_id,
                    "code": sku.code,
                    "out_sku_id": "",
                    "item_num": qty,
                    "order_status": self.status,
                    "is_presale": 1 if self.presale else 0,
                    "create_time": self.create_time,
                    "update_time": self.update_time,
                }
                for sku, qty, sub in self.lines
            ],
        }


class DouyinShop(TokenIssuer):
    """The shop behind one sandbox; thread-safe."""

    def __init__(self, catalog: dict[str, int], *, shop_id: int = 4463798, first_sku_id: int = 1740000000001) -> None:
        super().__init__()
        self.shop_id = shop_id
        self.skus: dict[int, Sku] = {}
        for n, (code, qty) in enumerate(catalog.items()):
            self.skus[first_sku_id + n] = Sku(first_sku_id + n, 3600000000001 + n, code, int(qty))
        self.orders: dict[str, Order] = {}
        self._ids = itertools.count(6920000000000000001)
        self.idempotent: dict[str, str] = {}  # idempotent_id -> fingerprint of the first request

    def find(self, sku_id: Any = None, code: Any = None) -> Sku | None:
        with self.lock:
            if sku_id not in (None, "", 0):
                try:
                    return self.skus.get(int(sku_id))
                except (TypeError, ValueError):
                    return None
            if code:
                return next((s for s in self.skus.values() if s.code == str(code)), None)
            return None

    def by_ref(self, ref: Any) -> Sku | None:
        """A SKU by sku_id or merchant code (operator events)."""
        try:
            return self.find(sku_id=int(ref))
        except (TypeError, ValueError):
            return self.find(code=ref)

    def stock_view(self) -> dict[str, Any]:
        with self.lock:
            return {
                s.code: {"sku_id": s.sku_id, "stock_num": s.stock_num, "prehold_stock_num": s.prehold}
                for s in self.skus.values()
            }

    # -- orders ------------------------------------------------------------------------------
    def create_order(self, lines: list[tuple[Sku, int]], now: int, *, presale: bool, paid: bool) -> Order:
        with self.lock:
            for sku, qty in lines:
                if qty <= 0:
                    raise ValueError(f"quantity for {sku.code} must be positive")
                free = sku.stock_num - sku.prehold
                if free < qty:
                    raise ValueError(f"{sku.code} has {free} sellable, cannot sell {qty}")
            for sku, qty in lines:
                if presale:
                    sku.prehold += qty  # still counted in stock_num until it ships
                else:
                    sku.stock_num -= qty
            order_id = str(next(self._ids))
            subs = [(sku, qty, str(next(self._ids))) for sku, qty in lines]
            order = Order(order_id, self.shop_id, PAID if paid else UNPAID, presale, subs, now, now, now if paid else 0)
            self.orders[order_id] = order
            return order

    def pay(self, order_id: str, now: int) -> Order:
        with self.lock:
            order = self.get(order_id)
            if order.status != UNPAID:
                raise ValueError(f"order {order_id} is not awaiting payment")
            order.status, order.pay_time, order.update_time = PAID, now, now
            return order

    def cancel(self, order_id: str, now: int) -> Order:
        with self.lock:
            order = self.get(order_id)
            if order.status in (SHIPPED, FINISHED):
                raise ValueError(f"order {order_id} has shipped; cannot cancel")
            if order.status != CANCELLED:
                for sku, qty, _ in order.lines:
                    if order.presale:
                        sku.prehold -= qty
                    else:
                        sku.stock_num += qty
                order.status = CANCELLED
            order.update_time = now
            return order

    def ship(self, order_id: str, now: int) -> Order:
        with self.lock:
            order = self.get(order_id)
            if order.status != PAID:
                raise ValueError(f"order {order_id} is not paid")
            if order.presale:
                for sku, qty, _ in order.lines:
                    sku.prehold -= qty
                    sku.stock_num -= qty
            order.status, order.update_time = SHIPPED, now
            return order

    def get(self, order_id: str) -> Order:
        order = self.orders.get(str(order_id))
        if order is None:
            raise ValueError(f"no order {order_id!r}")
        return order

    def search(
        self,
        *,
        field: str,
        start: int | None,
        end: int | None,
        status: int | None,
        page: int,
        size: int,
        ascending: bool,
    ) -> tuple[list[Order], int]:
        with self.lock:

            def stamp(o: Order) -> int:
                return o.update_time if field == "update_time" else o.create_time

            hits = [
                o
                for o in self.orders.values()
                if (start is None or stamp(o) >= start)
                and (end is None or stamp(o) <= end)
                and (status is None or o.status == status)
            ]
            hits.sort(key=lambda o: (stamp(o), o.order_id), reverse=not ascending)
            return hits[page * size : (page + 1) * size], len(hits)
