"""In-memory JD shop: SKUs with stock, POP orders with modified times, issued tokens. Pure, no I/O."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.jd.signing import GMT8
from connectors.testing.tokens import TokenIssuer

ORDER_PAID = "WAIT_SELLER_STOCK_OUT"
ORDER_SHIPPED = "WAIT_GOODS_RECEIVE_CONFIRM"
ORDER_CANCELLED = "TRADE_CANCELED"
ORDER_FINISHED = "FINISHED_L"


def jd_time(unix: float) -> str:
    return datetime.fromtimestamp(int(unix), GMT8).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Sku:
    sku_id: int
    outer_id: str
    ware_id: int
    stock: int
    name: str = ""


@dataclass
class Order:
    order_id: str
    state: str
    items: list[tuple[Sku, int]]
    created: float
    modified: float
    remark: str = ""

    def to_wire(self, vender_id: str) -> dict[str, Any]:
        """One ``orderInfoList`` entry as ``jingdong.pop.order.search`` returns it."""
        total = sum(qty * 9900 for _, qty in self.items) / 100
        return {
            "orderId": self.order_id,
            "venderId": vender_id,
            "orderType": "22",
            "payType": "4-在线支付",
            "orderTotalPrice": f"{total:.2f}",
            "orderSellerPrice": f"{total:.2f}",
            "orderPayment": f"{total:.2f}",
            "freightPrice": "0.00",
            "orderState": self.state,
            "orderStateRemark": {
                ORDER_PAID: "等待出库",
                ORDER_CANCELLED: "(删除)库房取消",
                ORDER_SHIPPED: "等待确认收货",
                ORDER_FINISHED: "完成",
            }.get(self.state, ""),
            "orderRemark": self.remark,
            "orderStartTime": jd_time(self.created),
            "paymentConfirmTime": jd_time(self.created),
            "modified": jd_time(self.modified),
            "itemInfoList": [
                {
                    "skuId": str(sku.sku_id),
                    "outerSkuId": sku.outer_id,
                    "wareId": str(sku.ware_id),
                    "skuName": sku.name or sku.outer_id,
                    "jdPrice": "99.00",
                    "itemTotal": str(qty),
                    "productNo": sku.outer_id,
                    "giftPoint": "0",
                }
                for sku, qty in self.items
            ],
            "consigneeInfo": {
                "fullname": "张*",
                "mobile": "138****0000",
                "province": "北京",
                "city": "北京市",
                "county": "朝阳区",
                "fullAddress": "北京北京市朝阳区****",
            },
        }


class JdShop(TokenIssuer):
    """The shop behind one sandbox; every method is thread-safe."""

    def __init__(self, catalog: dict[str, int], *, vender_id: str = "10086", first_sku_id: int = 100001) -> None:
        super().__init__()
        self.vender_id = vender_id
        self.skus: dict[int, Sku] = {}
        for n, (outer_id, qty) in enumerate(catalog.items()):
            sku_id = first_sku_id + n
            self.skus[sku_id] = Sku(sku_id, outer_id, 200000 + n, int(qty))
        self.orders: dict[str, Order] = {}
        self._order_ids = itertools.count(230000000001)
        self.codes: set[str] = set()

    # -- lookup ------------------------------------------------------------------------------
    def find(self, ref: Any) -> Sku | None:
        """A SKU by numeric skuId or by merchant code (outerId)."""
        with self.lock:
            try:
                sku = self.skus.get(int(ref))
                if sku:
                    return sku
            except (TypeError, ValueError):
                pass
            return next((s for s in self.skus.values() if s.outer_id == str(ref)), None)

    def stock_view(self) -> dict[str, Any]:
        with self.lock:
            return {s.outer_id: {"skuId": s.sku_id, "stockNum": s.stock} for s in self.skus.values()}

    # -- orders ------------------------------------------------------------------------------
    def create_order(self, items: list[tuple[Sku, int]], now: float) -> Order:
        with self.lock:
            for sku, qty in items:
                if qty <= 0:
                    raise ValueError(f"quantity for {sku.outer_id} must be positive")
                if sku.stock < qty:
                    raise ValueError(f"{sku.outer_id} has {sku.stock} in stock, cannot sell {qty}")
            for sku, qty in items:
                sku.stock -= qty
            order = Order(str(next(self._order_ids)), ORDER_PAID, items, now, now)
            self.orders[order.order_id] = order
            return order

    def cancel_order(self, order_id: str, now: float) -> Order:
        with self.lock:
            order = self._order(order_id)
            if order.state != ORDER_CANCELLED:
                for sku, qty in order.items:
                    sku.stock += qty
                order.state = ORDER_CANCELLED
            order.modified = now
            return order

    def touch_order(self, order_id: str, now: float, *, state: str | None = None, remark: str | None = None) -> Order:
        with self.lock:
            order = self._order(order_id)
            if state:
                order.state = state
            if remark is not None:
                order.remark = remark
            order.modified = now
            return order

    def _order(self, order_id: str) -> Order:
        order = self.orders.get(str(order_id))
        if order is None:
            raise ValueError(f"no order {order_id!r}")
        return order

    def search(
        self,
        *,
        start: float,
        end: float,
        by_modified: bool,
        states: set[str] | None,
        page: int,
        page_size: int,
        descending: bool,
    ) -> tuple[list[Order], int]:
        """Orders whose modified (or created) time lies in [start, end] at second resolution."""
        with self.lock:

            def stamp(o: Order) -> int:
                return int(o.modified if by_modified else o.created)

            hits = [
                o
                for o in self.orders.values()
                if int(start) <= stamp(o) <= int(end) and (not states or o.state in states)
            ]
            hits.sort(key=lambda o: (stamp(o), o.order_id), reverse=descending)
            first = (page - 1) * page_size
            return hits[first : first + page_size], len(hits)
