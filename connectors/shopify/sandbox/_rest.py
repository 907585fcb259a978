"""Sandbox state, the Admin API guard (token, faults, leaky bucket) and the REST inventory/product routes."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Coroutine, Sequence
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException

from connectors.testing.delivery import close_delivery_client
from connectors.testing.operator import Faults, RequestLog

from .. import constants as c
from ._faults import LOST_ANSWER, fault_response, too_many
from ._graphql import MUTATION_COST
from ._limits import CostBucket, LeakyBucket
from ._push import check_target, deliver, webhook_request
from ._store import Shop

API = "/admin/api/{version:str}"


class Sandbox:
    """Everything one sandbox app holds; handlers reach it through ``request.app.state.sandbox``."""

    def __init__(self, *, app_key: str, app_secret: str, access_token: str, hub_url: str | None,
                 skus: dict[str, int], shop_domain: str, rest_bucket: int, rest_leak: float,
                 graphql_max: float, graphql_restore: float, retry_after: float,
                 webhook_retry_delays: Sequence[float] = ()) -> None:  # fmt: skip
        self.app_key, self.app_secret, self.access_token = app_key, app_secret, access_token
        self.webhook_target = check_target(hub_url) if hub_url else None
        self.shop = Shop(skus, domain=shop_domain)
        self.rest = LeakyBucket(size=rest_bucket, rate=rest_leak)
        self.cost = CostBucket(maximum=graphql_max, restore=graphql_restore)
        self.retry_after = retry_after
        self.log = RequestLog()
        self.faults = Faults()
        self.codes: dict[str, float] = {}  # OAuth codes -> issued at
        self.idempotent: dict[str, dict[str, Any]] = {}
        self.pushes: list[dict[str, Any]] = []
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.deliveries: set[asyncio.Task[Any]] = set()  # webhook retries and background deliveries

    async def push(self, topic: str, payload: Any, version: str = c.API_VERSION) -> dict[str, Any]:
        headers, body = webhook_request(topic, payload, secret=self.app_secret, shop=self.shop.domain,
                                        version=version)
        record: dict[str, Any] = {"topic": topic, "event_id": headers["X-Shopify-Event-Id"],
                                  "webhook_id": headers["X-Shopify-Webhook-Id"], "status": None, "attempts": 0}
        if self.webhook_target:
            await self._attempt(record, self.webhook_target, headers, body)
            if not _delivered(record["status"]) and self.webhook_retry_delays:
                self._in_background(self._retry(record, self.webhook_target, headers, body))
        self.pushes.append(record)
        return record

    async def _attempt(self, record: dict[str, Any], target: str, headers: dict[str, str], body: bytes) -> None:
        record["status"] = await deliver(target, headers, body)
        record["attempts"] += 1

    async def _retry(self, record: dict[str, Any], target: str, headers: dict[str, str], body: bytes) -> None:
        """Shopify's retries: the same delivery (same ids, body and Triggered-At) after each delay until a 2xx."""
        for delay in self.webhook_retry_delays:
            await asyncio.sleep(delay)
            await self._attempt(record, target, headers, body)
            if _delivered(record["status"]):
                return

    async def close(self) -> None:
        for task in list(self.deliveries):
            task.cancel()
        await asyncio.gather(*self.deliveries, return_exceptions=True)
        await close_delivery_client()

    async def push_level(self, inventory_item_id: int) -> dict[str, Any]:
        level = self.shop.level_json(inventory_item_id, self.shop.location_id)
        return await self.push("inventory_levels/update", level)

    def push_level_later(self, inventory_item_id: int) -> None:
        """The ``inventory_levels/update`` an Admin API write causes, sent after the write is answered, as
        Shopify sends webhooks: the level as it stood right after the write, delivered in the background."""
        level = self.shop.level_json(inventory_item_id, self.shop.location_id)
        self._in_background(self.push("inventory_levels/update", level))

    def _in_background(self, delivery: Coroutine[Any, Any, Any]) -> None:
        """Run ``delivery`` after the answer, held in ``deliveries`` (so it is not collected, and closing
        cancels it)."""
        task = asyncio.get_running_loop().create_task(delivery)
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)


def _delivered(status: int | str | None) -> bool:
    return isinstance(status, int) and 200 <= status < 300


def _sandbox(request: Request[Any, Any, Any]) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


async def _json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise HTTPException(status_code=400, detail="body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail="body must be a JSON object")
    return data


def _ids(value: str | None, name: str) -> list[int]:
    try:
        return [int(x) for x in (value or "").split(",") if x.strip()]
    except ValueError:
        raise HTTPException(status_code=400, detail=f"{name} must be comma separated integers") from None


def _json_id(raw: str) -> int:
    value = raw.removesuffix(".json")
    if not value.isdigit():
        raise HTTPException(status_code=404, detail="Not Found")
    return int(value)


async def guard(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Token check, forced faults and the leaky bucket, before any Admin API handler."""
    if not request.url.path.startswith("/admin/api/"):
        return None
    sb = _sandbox(request)
    if not secrets.compare_digest(request.headers.get(c.H_ACCESS_TOKEN, ""), sb.access_token):
        return Response({"errors": c.INVALID_TOKEN}, status_code=401)
    is_graphql = request.url.path.endswith("/graphql.json")
    kind = sb.faults.next()
    if kind == "lost_answer":
        request.scope[LOST_ANSWER] = True  # the handler runs; LogMiddleware answers 503 instead
        kind = None
    if kind == "rate_limit" and is_graphql:
        return Response({"errors": [{"message": "Throttled", "extensions": {"code": c.THROTTLED}}],
                         "extensions": sb.cost.extensions(MUTATION_COST, None)})
    if kind:
        return fault_response(kind, retry_after=sb.retry_after)
    if not is_graphql and not sb.rest.take():
        return too_many(sb.retry_after)
    return None


# -- REST ---------------------------------------------------------------------------------------
@get(f"{API}/inventory_levels.json")
async def inventory_levels(request: Request[Any, Any, Any], inventory_item_ids: str | None = None,
                           location_ids: str | None = None) -> dict[str, Any]:
    shop = _sandbox(request).shop
    items, locs = _ids(inventory_item_ids, "inventory_item_ids"), _ids(location_ids, "location_ids")
    if not items and not locs:
        raise HTTPException(status_code=422, detail="inventory_item_ids or location_ids is required")
    levels = [shop.level_json(item, loc) for (item, loc) in shop.levels
              if (not items or item in items) and (not locs or loc in locs)]
    return {"inventory_levels": levels}


async def _level_change(request: Request[Any, Any, Any], field: str) -> Response[Any]:
    sb = _sandbox(request)
    data = await _json(request)
    for name in ("inventory_item_id", "location_id", field):
        if not isinstance(data.get(name), int):
            return Response({"errors": {name: "Required parameter missing or invalid"}}, status_code=400)
    try:
        level = sb.shop.level(data["inventory_item_id"], data["location_id"])
    except KeyError:
        return Response({"errors": ["Inventory item does not have inventory tracking enabled"]}, status_code=422)
    target = data[field] if field == "available" else level.available + data[field]
    sb.shop.set_available(data["inventory_item_id"], data["location_id"], target)
    sb.push_level_later(data["inventory_item_id"])
    return Response({"inventory_level": sb.shop.level_json(data["inventory_item_id"], data["location_id"])})


@post(f"{API}/inventory_levels/set.json", status_code=200)
async def inventory_levels_set(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _level_change(request, "available")


@post(f"{API}/inventory_levels/adjust.json", status_code=200)
async def inventory_levels_adjust(request: Request[Any, Any, Any]) -> Response[Any]:
    return await _level_change(request, "available_adjustment")


@get(f"{API}/locations.json")
async def locations(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"locations": [_sandbox(request).shop.location_json()]}


@get(f"{API}/locations/{{loc:str}}")
async def location(request: Request[Any, Any, Any], loc: str) -> dict[str, Any]:
    shop = _sandbox(request).shop
    if _json_id(loc) != shop.location_id:
        raise HTTPException(status_code=404, detail="Not Found")
    return {"location": shop.location_json()}


@get(f"{API}/products.json")
async def products(request: Request[Any, Any, Any]) -> dict[str, Any]:
    shop = _sandbox(request).shop
    return {"products": [shop.product_json(i) for i in shop.items.values()]}


@get(f"{API}/products/{{pid:str}}")
async def product(request: Request[Any, Any, Any], pid: str) -> dict[str, Any]:
    shop, wanted = _sandbox(request).shop, _json_id(pid)
    for item in shop.items.values():
        if item.product_id == wanted:
            return {"product": shop.product_json(item)}
    raise HTTPException(status_code=404, detail="Not Found")


@get(f"{API}/variants/{{vid:str}}")
async def variant(request: Request[Any, Any, Any], vid: str) -> dict[str, Any]:
    shop, wanted = _sandbox(request).shop, _json_id(vid)
    for item in shop.items.values():
        if item.variant_id == wanted:
            return {"variant": shop.variant_json(item)}
    raise HTTPException(status_code=404, detail="Not Found")


def _item_json(item: Any) -> dict[str, Any]:
    return {"id": item.inventory_item_id, "sku": item.sku, "tracked": True, "requires_shipping": True,
            "admin_graphql_api_id": f"gid://shopify/InventoryItem/{item.inventory_item_id}"}


@get(f"{API}/inventory_items.json")
async def inventory_items(request: Request[Any, Any, Any], ids: str | None = None) -> dict[str, Any]:
    wanted = _ids(ids, "ids")
    items = _sandbox(request).shop.items.values()
    return {"inventory_items": [_item_json(i) for i in items if i.inventory_item_id in wanted]}


@get(f"{API}/inventory_items/{{iid:str}}")
async def inventory_item(request: Request[Any, Any, Any], iid: str) -> dict[str, Any]:
    try:
        return {"inventory_item": _item_json(_sandbox(request).shop.item_by_id(_json_id(iid)))}
    except KeyError:
        raise HTTPException(status_code=404, detail="Not Found") from None
