"""Shopify Admin API client: REST leaky bucket (429 + Retry-After), GraphQL cost (THROTTLED)."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.base import (
    AuthError,
    BaseClient,
    ConflictError,
    ErrorResolution,
    ErrorTable,
    InstanceConfig,
    RateLimited,
    ResponseAction,
    RetryPolicy,
    ValidationError,
)

from . import constants as c

__all__ = ["SHOPIFY_ERRORS", "ShopifyClient"]

SHOPIFY_ERRORS = ErrorTable.default().extend(
    {
        c.THROTTLED: ErrorResolution(ResponseAction.RATE_LIMITED, RateLimited, "GraphQL cost limit reached"),
        c.COMPARE_QUANTITY_STALE: ErrorResolution(ResponseAction.FAIL, ConflictError, "compareQuantity is stale"),
        "ACCESS_DENIED": ErrorResolution(ResponseAction.FAIL, AuthError, "access denied (missing scope)"),
        "INVALID_NAME": ErrorResolution(ResponseAction.FAIL, ValidationError, "invalid quantity name"),
        "INVALID_REASON": ErrorResolution(ResponseAction.FAIL, ValidationError, "invalid reason"),
        "INVALID_INVENTORY_ITEM": ErrorResolution(ResponseAction.FAIL, ValidationError, "unknown inventory item"),
        "INVALID_LOCATION": ErrorResolution(ResponseAction.FAIL, ValidationError, "unknown location"),
    }
)


def _throttle_wait(body: dict[str, Any]) -> float:
    """Seconds until the cost bucket holds enough points again (from ``extensions.cost``)."""
    cost = body.get("extensions", {}).get("cost", {})
    status = cost.get("throttleStatus", {})
    needed = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
    rate = float(status.get("restoreRate") or 0)
    return max(needed / rate, 0.0) if rate > 0 else 1.0


class ShopifyClient(BaseClient):
    """REST and GraphQL Admin API calls for one shop, authenticated by ``X-Shopify-Access-Token``."""

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(
            config,
            errors=SHOPIFY_ERRORS,
            rate=c.REST_RATE,
            burst=c.REST_BURST,
            retry=retry,
            headers={c.H_ACCESS_TOKEN: config.credential("access_token"), "Accept": "application/json"},
        )
        self.version = str(config.settings.get("api_version", c.API_VERSION))

    def path(self, resource: str) -> str:
        return f"/admin/api/{self.version}/{resource}"

    async def rest(self, method: str, resource: str, **kwargs: Any) -> httpx.Response:
        """``await client.rest("GET", "inventory_levels.json", params={...})``"""
        return await self.request(method, self.path(resource), **kwargs)

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer; THROTTLED is retried after the cost bucket refills."""
        response = await self.request("POST", self.path("graphql.json"), json={"query": query, "variables": variables})
        data: dict[str, Any] = response.json().get("data") or {}
        return data

    def check(self, response: httpx.Response) -> None:
        super().check(response)
        if not response.url.path.endswith("/graphql.json"):
            return
        body = response.json()
        errors = body.get("errors") or []
        for error in errors:
            code = (error.get("extensions") or {}).get("code")
            if code == c.THROTTLED:
                raise self.errors.error_for(
                    c.THROTTLED, instance=self.config.name, status=200, retry_after=_throttle_wait(body)
                )
        if errors:
            detail = "; ".join(str(e.get("message")) for e in errors)[:300]
            raise ValidationError("GraphQL request refused", instance=self.config.name, status=200, detail=detail)
