"""The sandbox shop's state: products/variants/inventory items, levels per location, orders.

Quantities follow Shopify's model: placing an order moves units ``available`` -> ``committed``;
cancelling (with restock) moves them back; ``on_hand = available + committed``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

SHOP_TZ = timezone(timedelta(hours=8))


def shop_time(at: datetime | None = None) -> str:
    """Shopify REST style: seconds resolution in the shop's time zone, e.g. 2026-01-02T10:00:00+08:00."""
    return (at or datetime.now(SHOP_TZ)).astimezone(SHOP_TZ).replace(microsecond=0).isoformat()


@dataclass
class Item:
    sku: str
    product_id: int
    variant_id: int
    inventory_item_id: int


@dataclass
class Level:
    available: int
    committed: int = 0
    updated_at: str = field(default_factory=shop_time)

    @property
    def on_hand(self) -> int:
        return self.available + self.committed


class Shop:
    """All state of one sandbox shop; methods raise ``KeyError``/``ValueError`` naming the problem."""

    def __init__(self, skus: dict[str, int], *, domain: str, location_id: int = 655441491) -> None:
        self.domain = domain
        self.location_id = location_id
        self._ids = itertools.count(1001)
        self._order_ids = itertools.count(450789469)
        self.items: dict[str, Item] = {}
        self.levels: dict[tuple[int, int], Level] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        for n, (sku, qty) in enumerate(skus.items()):
            item = Item(sku, 632910392 + n, 39072856 + n, 808950810 + n)
            self.items[sku] = item
            self.levels[(item.inventory_item_id, location_id)] = Level(qty)

    # -- lookups ----------------------------------------------------------------------------
    def item(self, sku: str) -> Item:
        if sku not in self.items:
            raise KeyError(f"unknown sku {sku!r}")
        return self.items[sku]

    def item_by_id(self, inventory_item_id: int) -> Item:
        for item in self.items.values():
            if item.inventory_item_id == inventory_item_id:
                return item
        raise KeyError(f"unknown inventory item {inventory_item_id}")

    def level(self, inventory_item_id: int, location_id: int) -> Level:
        if (inventory_item_id, location_id) not in self.levels:
            raise KeyError(f"inventory item {inventory_item_id} is not stocked at location {location_id}")
        return self.levels[(inventory_item_id, location_id)]

    # -- REST representations ---------------------------------------------------------------
    def level_json(self, inventory_item_id: int, location_id: int) -> dict[str, Any]:
        lv = self.level(inventory_item_id, location_id)
        return {
            "inventory_item_id": inventory_item_id, "location_id": location_id, "available": lv.available,
            "updated_at": lv.updated_at,
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={inventory_item_id}",
        }

    def variant_json(self, item: Item) -> dict[str, Any]:
        return {
            "id": item.variant_id, "product_id": item.product_id, "title": "Default Title", "price": "19.00",
            "sku": item.sku, "inventory_item_id": item.inventory_item_id, "inventory_management": "shopify",
            "inventory_quantity": self.level(item.inventory_item_id, self.location_id).available,
            "admin_graphql_api_id": f"gid://shopify/ProductVariant/{item.variant_id}",
        }

    def product_json(self, item: Item) -> dict[str, Any]:
        return {"id": item.product_id, "title": f"Product {item.sku}", "status": "active",
                "variants": [self.variant_json(item)],
                "admin_graphql_api_id": f"gid://shopify/Product/{item.product_id}"}

    def location_json(self) -> dict[str, Any]:
        return {"id": self.location_id, "name": "Sandbox Warehouse", "active": True, "country_code": "CN",
                "admin_graphql_api_id": f"gid://shopify/Location/{self.location_id}"}

    def stock_view(self) -> dict[str, Any]:
        out = {}
        for sku, item in self.items.items():
            lv = self.level(item.inventory_item_id, self.location_id)
            out[sku] = {"available": lv.available, "committed": lv.committed, "on_hand": lv.on_hand,
                        "inventory_item_id": item.inventory_item_id, "variant_id": item.variant_id,
                        "product_id": item.product_id, "location_id": self.location_id}
        return out

    # -- changes ----------------------------------------------------------------------------
    def set_available(self, inventory_item_id: int, location_id: int, available: int) -> int:
        lv = self.level(inventory_item_id, location_id)
        before, lv.available, lv.updated_at = lv.available, available, shop_time()
        return available - before

    def create_order(self, sku: str, quantity: int) -> dict[str, Any]:
        if quantity <= 0:
            raise ValueError("quantity must be a positive integer")
        item = self.item(sku)
        lv = self.level(item.inventory_item_id, self.location_id)
        lv.available -= quantity
        lv.committed += quantity
        lv.updated_at = now = shop_time()
        order_id = next(self._order_ids)
        number = next(self._ids)
        order = {
            "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{number}",
            "order_number": number, "created_at": now, "updated_at": now, "cancelled_at": None,
            "cancel_reason": None, "currency": "CNY", "financial_status": "paid", "fulfillment_status": None,
            "total_price": f"{19 * quantity:.2f}", "location_id": self.location_id,
            "line_items": [{"id": order_id * 10 + 1, "variant_id": item.variant_id, "product_id": item.product_id,
                            "sku": sku, "quantity": quantity, "price": "19.00", "title": f"Product {sku}"}],
        }
        self.orders[order_id] = order
        return order

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        if order_id not in self.orders:
            raise KeyError(f"unknown order {order_id}")
        order = self.orders[order_id]
        if order["cancelled_at"]:
            raise ValueError(f"order {order_id} is already cancelled")
        for line in order["line_items"]:
            lv = self.level(self.item(line["sku"]).inventory_item_id, self.location_id)
            lv.available += line["quantity"]
            lv.committed -= line["quantity"]
            lv.updated_at = shop_time()
        order["cancelled_at"] = order["updated_at"] = shop_time()
        order["cancel_reason"] = "customer"
        return order

    def find_orders(self, *, since: datetime | None, until: datetime | None, after_id: int, status: str) -> list[Any]:
        def keep(o: dict[str, Any]) -> bool:
            at = datetime.fromisoformat(o["updated_at"])
            if status == "open" and o["cancelled_at"] or status == "cancelled" and not o["cancelled_at"]:
                return False
            return o["id"] > after_id and (since is None or at >= since) and (until is None or at <= until)

        return [o for _, o in sorted(self.orders.items()) if keep(o)]
