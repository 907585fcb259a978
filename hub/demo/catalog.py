"""What the demo runs: each sandbox as a demo shop or system, how it is registered in the hub, and the
events that make gentle traffic. Pure data and small pure functions: no I/O here."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

WAREHOUSE = "WH-SH"
"""The one warehouse of the demo: the WMS reports it, every shop sells and reserves from it (the seed's)."""

STOCK: dict[str, int] = {"A": 168, "B": 40, "C": 90}
"""Demo SKUs with what the WMS holds at start; SKU A is the seed example's (168 on hand)."""

UNIT_COST: dict[str, str] = {"A": "12.50", "B": "30.00", "C": "8.80"}
"""Purchase cost per unit of the opening stock, so the ERPs' vouchers can value every movement."""

SKUS: tuple[str, ...] = tuple(STOCK)
SHOPS: tuple[str, ...] = ("shopify", "taobao", "jd", "douyin", "meituan")
SHARE = "0.2"
"""Each of the five shops may show a fifth of the warehouse's free stock (shares may not add up past 1)."""

SHOPIFY_DOMAIN = "zhongshu-demo.myshopify.com"
QIMEN_CUSTOMER = "CUST01"


@dataclass(frozen=True)
class Demo:
    """One sandbox of the demo, registered as the hub source ``source``."""

    source: str
    platform: str
    title: str
    factory: str
    credentials: Mapping[str, str]
    settings: Mapping[str, Any] = field(default_factory=dict)
    default_location: str = WAREHOUSE
    base_path: str = ""
    """Appended to the sandbox URL for the source's base URL (Kingdee serves under /k3cloud/)."""

    @property
    def is_shop(self) -> bool:
        return self.source in SHOPS


def _taobao_catalogue() -> list[dict[str, Any]]:
    return [{"num_iid": 520000000001 + i, "title": f"演示商品 {sku}", "outer_id": f"ITEM-{sku}",
             "skus": [{"sku_id": 4200000000001 + i, "outer_id": sku, "quantity": 0}]}
            for i, sku in enumerate(SKUS)]  # fmt: skip


def taobao_listing(sku: str) -> dict[str, int]:
    i = SKUS.index(sku)
    return {"num_iid": 520000000001 + i, "sku_id": 4200000000001 + i}


KINGDEE_APP_ID = "zsdemo_" + "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX"  # <clientId>_<32-char base64>

DEMOS: tuple[Demo, ...] = (
    Demo("shopify", "shopify", "Shopify shop", "connectors.shopify.sandbox:create_app",
         {"app_key": "demo-shopify", "app_secret": "shpss_demo_secret", "access_token": "shpat_demo_token"},
         {"shop_domain": SHOPIFY_DOMAIN}),
    Demo("taobao", "taobao", "Taobao/Tmall shop (TOP + TMC)", "connectors.taobao.sandbox:create_app",
         {"app_key": "23456789", "app_secret": "demo-taobao-secret", "access_token": "demo-taobao-session"},
         {"poll_streams": ["tmc"]}),
    Demo("jd", "jd", "JD shop (polled)", "connectors.jd.sandbox:create_app",
         {"app_key": "34567890", "app_secret": "demo-jd-secret", "access_token": "demo-jd-token"}),
    Demo("douyin", "douyin", "Douyin shop (signed push)", "connectors.douyin.sandbox:create_app",
         {"app_key": "45678901", "app_secret": "demo-douyin-secret", "access_token": "demo-douyin-token"},
         {"poll": False}),
    Demo("meituan", "meituan", "Meituan 闪购 store (declarative YAML)", "connectors.meituan.sandbox:create_app",
         {"app_id": "56789012", "app_secret": "demo-meituan-secret"},
         {"app_poi_code": WAREHOUSE, "poll": False}),
    Demo("wms", "qimen", "Warehouse WMS (Qimen)", "connectors.qimen.sandbox:create_app",
         {"app_key": "demo-wms", "app_secret": "demo-wms-secret"},
         {"customer_id": QIMEN_CUSTOMER, "warehouse_code": WAREHOUSE}),
    Demo("tms", "tms", "Carrier tracking (Kuaidi100 TMS)", "connectors.tms.sandbox:create_app",
         {"key": "demo-kuaidi100-key", "customer": "DEMOCUSTOMER", "salt": "demo-tms-salt"},
         {"customer": "DEMOCUSTOMER"}),
    Demo("kingdee", "kingdee", "Kingdee K/3 Cloud ERP", "connectors.kingdee.sandbox:create_app",
         {"password": "888888", "app_id": KINGDEE_APP_ID, "app_secret": "demo-kingdee-secret"},
         {"auth": "password", "acct_id": "zs-demo", "username": "administrator", "books": {"E1": "001"}},
         base_path="/k3cloud/"),
    Demo("yonyou", "yonyou", "Yonyou YonBIP ERP", "connectors.yonyou.sandbox:create_app",
         {"app_key": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "app_secret": "demo-yonyou-secret"},
         {"accbooks": {"E1": "ZS01"}, "maker_mobile": "13800000000"}),
)


def by_source(source: str) -> Demo:
    for demo in DEMOS:
        if demo.source == source:
            return demo
    raise KeyError(f"no demo sandbox {source!r}; known: {', '.join(d.source for d in DEMOS)}")


def webhook_url(hub_url: str, source: str) -> str:
    return f"{hub_url}/webhooks/{source}"


def sandbox_kwargs(demo: Demo, hub_url: str) -> dict[str, Any]:
    """Keyword arguments of the sandbox factory: the demo's keys, its SKUs, and where it pushes."""
    c, push = demo.credentials, webhook_url(hub_url, demo.source)
    start = {sku: 0 for sku in SKUS}  # the hub's first sync sets what each shop shows
    if demo.source == "shopify":
        return {"app_key": c["app_key"], "app_secret": c["app_secret"], "access_token": c["access_token"],
                "hub_url": push, "skus": start, "shop_domain": SHOPIFY_DOMAIN}
    if demo.source == "taobao":
        return {"app_key": c["app_key"], "app_secret": c["app_secret"], "access_token": c["access_token"],
                "catalogue": _taobao_catalogue(), "visibility_timeout": 30.0}
    if demo.source in ("jd", "douyin"):
        return {"app_key": c["app_key"], "app_secret": c["app_secret"], "access_token": c["access_token"],
                "hub_url": push, "catalog": start}
    if demo.source == "meituan":
        return {"app_key": c["app_id"], "app_secret": c["app_secret"], "hub_url": push,
                "app_poi_code": WAREHOUSE, "skus": start}
    if demo.source == "wms":
        return {"app_key": c["app_key"], "app_secret": c["app_secret"], "hub_url": push,
                "customer_id": QIMEN_CUSTOMER, "warehouses": [WAREHOUSE],
                "initial_stock": [{"warehouseCode": WAREHOUSE, "itemCode": s, "quantity": q} for s, q in STOCK.items()]}
    if demo.source == "tms":
        return {"app_key": c["key"], "customer": c["customer"], "salt": c["salt"], "hub_url": push}
    if demo.source == "kingdee":
        return {"app_key": c["app_id"], "app_secret": c["app_secret"], "acct_id": "zs-demo"}
    return {"app_key": c["app_key"], "app_secret": c["app_secret"]}


def source_settings(demo: Demo, hub_url: str, sandbox_stock: Mapping[str, Any] | None = None) -> dict[str, Any]:
    settings = dict(demo.settings)
    if demo.source == "meituan":
        settings["push_url"] = webhook_url(hub_url, demo.source)
    if demo.source == "tms":
        settings["callback_url"] = webhook_url(hub_url, demo.source)
    if demo.source == "shopify" and sandbox_stock:
        settings["location_id"] = next(iter(sandbox_stock.values()))["location_id"]
    return settings


def listing(demo: Demo, sku: str, sandbox_stock: Mapping[str, Any]) -> dict[str, Any]:
    """A shop's listing of ``sku``: its platform ids (read from the sandbox) and its publish rule."""
    row = sandbox_stock.get(sku) or {}
    rule: dict[str, Any] = {"share": SHARE, "warehouses": [WAREHOUSE]}
    if demo.source == "shopify":
        ids = {k: row[k] for k in ("inventory_item_id", "variant_id", "location_id")}
    elif demo.source == "taobao":
        ids = taobao_listing(sku)
    elif demo.source == "jd":
        ids = {"sku_id": row["skuId"]}
    elif demo.source == "douyin":
        ids = {"sku_id": row["sku_id"]}
    elif demo.source == "meituan":
        ids = {"app_food_code": sku, "sku_id": sku}
    else:
        raise ValueError(f"{demo.source} is not a shop: it has no listings")
    return {**ids, **rule}


# -- traffic -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """One operator call on a sandbox (``POST {sandbox}/_sandbox/events``), or a WMS snapshot (``body`` None)."""

    source: str
    kind: str
    body: dict[str, Any] | None
    sku: str = ""

    def describe(self) -> str:
        b = self.body or {}
        if self.kind == "order":
            return f"order {b.get('qty', b.get('quantity'))} × {self.sku}"
        if self.kind == "cancel":
            return f"cancel order {b.get('order_id')}"
        if self.kind == "stock":
            return f"seller sets {self.sku} to {b.get('quantity')} in the shop back office"
        if self.kind == "receipt":
            return f"receives {b.get('quantity')} × {self.sku} (stockchange.report)"
        if self.kind == "snapshot":
            return "inventory snapshot (inventory.query) → hub"
        return self.kind


def order_event(source: str, sku: str, qty: int) -> Event:
    body: dict[str, Any] = {"type": "order", "sku": sku, "qty": qty, "quantity": qty}
    if source == "taobao":
        body["mode"] = "place"
    return Event(source, "order", body, sku)


def cancel_event(source: str, order_id: str) -> Event:
    return Event(source, "cancel", {"type": "cancel", "order_id": order_id, "tid": order_id})


def next_event(rng: random.Random, open_orders: Mapping[str, list[str]]) -> Event:
    """Pick the next demo event: mostly orders, some cancels, now and then a seller's stock edit or a receipt."""
    roll = rng.random()
    sku = rng.choices(SKUS, weights=(3, 1, 1))[0]
    cancellable = [s for s in SHOPS if open_orders.get(s)]
    if roll < 0.55:
        return order_event(rng.choice(SHOPS), sku, rng.choice((1, 1, 1, 2)))
    if roll < 0.80 and cancellable:
        source = rng.choice(cancellable)
        return cancel_event(source, rng.choice(open_orders[source]))
    if roll < 0.88:
        source = rng.choice(SHOPS)
        qty = rng.randint(5, 30)
        body: dict[str, Any] = {"type": "stock", "sku": sku, "quantity": qty, "available": qty, "qty": qty}
        if source == "douyin":
            body["presale_locked"] = rng.randint(0, 8)
        return Event(source, "stock", body, sku)
    qty = rng.randint(5, 20)
    return Event("wms", "receipt", {"type": "stock_change", "warehouseCode": WAREHOUSE, "itemCode": sku,
                                    "quantity": qty, "inventoryType": "ZP", "orderType": "CGRK"}, sku)  # fmt: skip


def order_id_of(answer: Any) -> str | None:
    """The platform order id in a sandbox's answer to an ``order`` event (every sandbox names it record_id)."""
    if isinstance(answer, dict):
        value = answer.get("record_id") or answer.get("order_id") or answer.get("tid")
        return str(value) if value is not None else None
    return None
