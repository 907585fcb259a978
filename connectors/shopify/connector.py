"""ShopifyConnector: webhooks in, orders polled by updated_at, stock read (REST) and set (GraphQL CAS)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

from connectors.base import (
    Capability,
    Connector,
    InstanceConfig,
    Page,
    PollCursor,
    PushedEvent,
    RetryPolicy,
    ValidationError,
    WriteResult,
)

from . import constants as c
from .binder import listing_for
from .client import ShopifyClient
from .verifier import parse_shopify_time, verify_webhook

__all__ = ["ShopifyConnector"]

_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="?next"?')

SET_QUANTITIES = """
mutation inventorySetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { createdAt reason referenceDocumentUri changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""

ADJUST_QUANTITIES = """
mutation inventoryAdjustQuantities($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { createdAt reason referenceDocumentUri changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""


class ShopifyConnector(Connector):
    """One Shopify shop. Settings: ``api_version``, ``location_id``, ``page_size`` (orders per page,
    default 50), ``poll_overlap_seconds`` (default 5), ``webhook_replay_window`` (seconds, default 300),
    ``shop_domain`` (checked against ``X-Shopify-Shop-Domain`` when set), rate and retry settings."""

    platform: ClassVar[str] = "shopify"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.PUSH,
            Capability.POLL,
            Capability.READ_STOCK,
            Capability.WRITE_STOCK,
            Capability.WRITE_STOCK_CAS,
            Capability.WRITE_STOCK_DELTA,
            Capability.LIST_ORDERS,
        }
    )
    sandbox_app: ClassVar[str | None] = "connectors.shopify.sandbox:create_app"
    mapping_dir: ClassVar[str | None] = "shopify"
    streams: ClassVar[tuple[str, ...]] = ("orders",)

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config)
        self._retry = retry
        self._client: ShopifyClient | None = None

    @property
    def client(self) -> ShopifyClient:
        if self._client is None:
            self._client = ShopifyClient(self.config, retry=self._retry)
        return self._client

    def verify_push(self, headers: Mapping[str, str], body: bytes, *, now: float) -> PushedEvent:
        return verify_webhook(
            headers,
            body,
            secret=self.config.credential("app_secret"),
            now=now,
            replay_window=float(self.config.setting("webhook_replay_window", c.DEFAULT_REPLAY_WINDOW)),
            shop_domain=self.config.setting("shop_domain"),
        )

    async def poll(self, stream: str, cursor: str | None) -> Page:
        if stream != "orders":
            raise ValidationError(f"unknown Shopify stream {stream!r}; known: orders", instance=self.name)
        overlap = timedelta(seconds=float(self.config.setting("poll_overlap_seconds", 5)))
        state = PollCursor.loads(cursor).open(now=datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))
        params: dict[str, Any] = {"limit": int(self.config.setting("page_size", 50))}
        if state.page_token:
            params["page_info"] = state.page_token
        else:
            since, until = state.bounds(overlap)
            params.update(status="any", updated_at_max=until.isoformat())
            if since:
                params["updated_at_min"] = since.isoformat()
        response = await self.client.rest("GET", "orders.json", params=params)
        orders = response.json().get("orders", [])
        by_key = {_order_key(o): o for o in orders}
        items = [(key, parse_shopify_time(o["updated_at"])) for key, o in by_key.items()]
        keep, state = state.advance(items, next_token=_next_page_info(response.headers.get("Link")), overlap=overlap)
        events = tuple(_order_event(key, by_key[key]) for key in keep)
        return Page(events=events, next_cursor=state.dumps(), has_more=state.in_window)

    async def read_stock(self, skus: Sequence[str]) -> dict[str, int]:
        listings = [listing_for(self.config, sku) for sku in skus]
        if not listings:
            return {}
        params = {
            "inventory_item_ids": ",".join(str(x.inventory_item_id) for x in listings),
            "location_ids": ",".join(sorted({str(x.location_id) for x in listings})),
        }
        response = await self.client.rest("GET", "inventory_levels.json", params=params)
        levels = {
            (int(lv["inventory_item_id"]), int(lv["location_id"])): int(lv.get("available") or 0)
            for lv in response.json().get("inventory_levels", [])
        }
        return {x.sku: levels.get((x.inventory_item_id, x.location_id), 0) for x in listings}

    async def write_stock(
        self,
        sku: str,
        quantity: int | None,
        *,
        compare_to: int | None = None,
        delta: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        self._check_stock_write(sku, quantity, compare_to=compare_to, delta=delta, negative_ok=True)
        listing = listing_for(self.config, sku)
        reference = f"zhongshu://sync/{idempotency_key}"
        key = re.sub(r"[^A-Za-z0-9_.:-]", "-", idempotency_key)[:255]
        if quantity is not None:
            line: dict[str, Any] = {"inventoryItemId": listing.item_gid, "locationId": listing.location_gid,
                                    "quantity": quantity, "compareQuantity": compare_to}
            payload = {"name": "available", "reason": "correction", "referenceDocumentUri": reference,
                       "ignoreCompareQuantity": compare_to is None, "quantities": [line]}
            data = await self.client.graphql(SET_QUANTITIES, {"input": payload, "key": key})
            result = data.get("inventorySetQuantities") or {}
        else:
            change = {"inventoryItemId": listing.item_gid, "locationId": listing.location_gid, "delta": delta}
            payload = {"name": "available", "reason": "correction", "referenceDocumentUri": reference,
                       "changes": [change]}
            data = await self.client.graphql(ADJUST_QUANTITIES, {"input": payload, "key": key})
            result = data.get("inventoryAdjustQuantities") or {}
        return self._write_result(sku, result, reference)

    def _write_result(self, sku: str, result: dict[str, Any], reference: str) -> WriteResult:
        errors = result.get("userErrors") or []
        if errors:
            first = errors[0]
            raise self.client.errors.error_for(
                str(first.get("code") or "USER_ERROR"), instance=self.name, status=200, detail=first.get("message")
            )
        group = result.get("inventoryAdjustmentGroup") or {}
        for change in group.get("changes") or []:
            if change.get("name") == "available":
                after = int(change["quantityAfterChange"])
                return WriteResult(sku, after, previous=after - int(change["delta"]), reference=reference)
        raise ValidationError("Shopify answer has no 'available' change", instance=self.name, detail=str(result)[:200])

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _next_page_info(link: str | None) -> str | None:
    match = _LINK_NEXT.search(link or "")
    if not match:
        return None
    values = parse_qs(urlparse(match.group(1)).query).get("page_info")
    return values[0] if values else None


def _order_key(order: dict[str, Any]) -> str:
    """``order:<id>@<updated_at>#<digest>``: overlap repeats dedupe, a same-second edit does not."""
    digest = hashlib.sha1(json.dumps(order, sort_keys=True).encode()).hexdigest()[:12]
    return f"order:{order['id']}@{order['updated_at']}#{digest}"


def _order_event(key: str, order: dict[str, Any]) -> PushedEvent:
    return PushedEvent(
        event_id=key,
        topic="orders/cancelled" if order.get("cancelled_at") else "orders/updated",
        payload=order,
        occurred_at=parse_shopify_time(order["updated_at"]),
        source="poll",
    )
