"""What the sandbox store holds: retail items (sellable stock, pending outbound) and orders."""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Item:
    app_food_code: str
    sku_id: str
    stock: int
    pending_outbound: int = 0
    name: str = ""
    price: float = 10.0


@dataclass
class Store:
    """One Meituan store (``app_poi_code``). Orders take stock and add pending outbound; cancels give it back."""

    app_poi_code: str
    items: dict[str, Item] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(27061900000000001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def item(self, code: str) -> Item:
        if code not in self.items:
            raise KeyError(f"no item {code!r} in store {self.app_poi_code}")
        return self.items[code]

    def set_stock(self, code: str, stock: int) -> Item:
        item = self.item(code)
        item.stock = stock
        return item

    def create_order(self, code: str, quantity: int) -> dict[str, Any]:
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        with self._lock:
            item = self.item(code)
            if item.stock < quantity:
                raise ValueError(f"only {item.stock} of {code} in stock")
            item.stock -= quantity
            item.pending_outbound += quantity
            now = int(time.time())
            order_id = next(self._ids)
            detail = [{"app_food_code": item.app_food_code, "sku_id": item.sku_id, "food_name": item.name or code,
                       "quantity": quantity, "price": item.price}]
            order = {"order_id": order_id, "app_poi_code": self.app_poi_code, "status": 1, "ctime": now, "utime": now,
                     "detail": json.dumps(detail, ensure_ascii=False, separators=(",", ":"))}
            self.orders[order_id] = order
            return dict(order)

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            if order_id not in self.orders:
                raise KeyError(f"no order {order_id}")
            order = self.orders[order_id]
            if order["status"] != 9:
                for line in json.loads(order["detail"]):
                    item = self.item(line["app_food_code"])
                    item.stock += line["quantity"]
                    item.pending_outbound = max(0, item.pending_outbound - line["quantity"])
                order["status"] = 9
                order["utime"] = int(time.time())
            return dict(order)

    def orders_between(self, start: int | None, end: int | None) -> list[dict[str, Any]]:
        with self._lock:
            rows = [dict(o) for o in self.orders.values()
                    if (start is None or o["utime"] >= start) and (end is None or o["utime"] <= end)]
        return sorted(rows, key=lambda o: (o["utime"], o["order_id"]))

    def food_data(self, codes: list[str]) -> str:
        rows = [{"app_food_code": self.items[c].app_food_code, "sku_id": self.items[c].sku_id,
                 "stock": self.items[c].stock, "pending_outbound": self.items[c].pending_outbound} for c in codes]
        return json.dumps(rows, separators=(",", ":"))

    def view(self) -> dict[str, Any]:
        return {code: {"app_food_code": i.app_food_code, "sku_id": i.sku_id, "available": i.stock, "stock": i.stock,
                       "pending_outbound": i.pending_outbound} for code, i in self.items.items()}
