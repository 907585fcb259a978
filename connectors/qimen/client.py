"""Qimen ERP→WMS client: signed calls to the gateway, the response envelope read as errors.

Every call is ``POST <gateway>?method=..&app_key=..&customerId=..&format=..&sign_method=md5
&timestamp=..&v=2.0&sign=..`` with the XML (or JSON) body; the WMS answers HTTP 200 with
``flag=failure`` and a code for business and gateway errors alike, so ``check`` reads the envelope
and raises the table's error: TOP gateway codes (7 rate limit, 15 remote error, 25 signature...)
and the WMS codes the sandbox uses. Settings: ``customer_id`` (required), ``format`` (xml|json),
``sign_method``, ``gateway_path``, ``owner_code``, ``warehouse_code``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import httpx

from connectors.base import (
    AuthError,
    BaseClient,
    ConflictError,
    ErrorResolution,
    ErrorTable,
    InstanceConfig,
    NotFound,
    RateLimited,
    ResponseAction,
    RetryPolicy,
    TransientError,
    ValidationError,
)

from . import codec
from .signing import signed_params, system_params

__all__ = ["QIMEN_ERRORS", "QimenClient"]

DEFAULT_GATEWAY_PATH = "/router/qimen/service"

QIMEN_ERRORS = ErrorTable.default().extend(
    {
        "7": ErrorResolution(ResponseAction.RATE_LIMITED, RateLimited, "App Call Limited"),
        "15": ErrorResolution(ResponseAction.RETRY, TransientError, "remote service error"),
        "21": ErrorResolution(ResponseAction.FAIL, ValidationError, "missing method"),
        "22": ErrorResolution(ResponseAction.FAIL, ValidationError, "invalid method"),
        "23": ErrorResolution(ResponseAction.FAIL, ValidationError, "invalid format"),
        "24": ErrorResolution(ResponseAction.FAIL, AuthError, "missing signature"),
        "25": ErrorResolution(ResponseAction.FAIL, AuthError, "invalid signature"),
        "28": ErrorResolution(ResponseAction.FAIL, AuthError, "missing app key"),
        "29": ErrorResolution(ResponseAction.FAIL, AuthError, "invalid app key"),
        "30": ErrorResolution(ResponseAction.FAIL, ValidationError, "missing timestamp"),
        "31": ErrorResolution(ResponseAction.FAIL, ValidationError, "invalid timestamp (clock skew?)"),
        "33": ErrorResolution(ResponseAction.FAIL, ValidationError, "invalid version"),
        "40": ErrorResolution(ResponseAction.FAIL, ValidationError, "missing required arguments"),
        "41": ErrorResolution(ResponseAction.FAIL, ValidationError, "invalid arguments"),
        "ORDER_NOT_FOUND": ErrorResolution(ResponseAction.FAIL, NotFound, "order not in the WMS"),
        "ORDER_ALREADY_CONFIRMED": ErrorResolution(ResponseAction.FAIL, ConflictError,
                                                   "order already shipped/received"),
        "WAREHOUSE_INVALID": ErrorResolution(ResponseAction.FAIL, ValidationError, "unknown warehouse"),
        "STOCK_INSUFFICIENT": ErrorResolution(ResponseAction.FAIL, ValidationError, "insufficient stock"),
    }
)


class QimenClient(BaseClient):
    """Signed Qimen calls for one ERP↔WMS route (app_key + customerId)."""

    def __init__(
        self, config: InstanceConfig, *, retry: RetryPolicy | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(config, errors=QIMEN_ERRORS, rate=float(config.settings.get("rate", 20)),
                         burst=float(config.settings.get("burst", 20)), retry=retry)
        self.app_key = config.credential("app_key")
        self.secret = config.credential("app_secret")
        customer_id = config.settings.get("customer_id") or config.credentials.get("customer_id")
        if not customer_id:
            raise ValidationError("setting 'customer_id' (Qimen routing key) is not configured", instance=config.name)
        self.customer_id = str(customer_id)
        self.format = str(config.settings.get("format", "xml"))
        if self.format not in ("xml", "json"):
            raise ValidationError(f"setting format={self.format!r} must be 'xml' or 'json'", instance=config.name)
        self.sign_method = str(config.settings.get("sign_method", "md5"))
        self.gateway_path = str(config.settings.get("gateway_path", DEFAULT_GATEWAY_PATH))
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def build(self, method: str, document: Mapping[str, Any]) -> tuple[dict[str, str], str]:
        """The signed query parameters and body of one call (exposed for tests and tooling)."""
        body = codec.encode(document, self.format, "request")
        params = system_params(method=method, app_key=self.app_key, customer_id=self.customer_id, now=self.clock(),
                               fmt=self.format, sign_method=self.sign_method)
        return signed_params(params, body, self.secret), body

    async def call(self, method: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """Send one call; return the success envelope in dict form (``flag``, ``code``, ``message``, ...)."""
        params, body = self.build(method, document)
        response = await self.request("POST", self.gateway_path, params=params, content=body.encode("utf-8"),
                                      headers={"Content-Type": codec.CONTENT_TYPES[self.format]})
        return self.envelope(response)

    def envelope(self, response: httpx.Response) -> dict[str, Any]:
        try:
            return codec.decode(response.content, self.format, "response")
        except codec.BodyError as exc:
            raise TransientError("malformed Qimen answer", instance=self.config.name, detail=str(exc)) from exc

    def check(self, response: httpx.Response) -> None:
        super().check(response)
        answer = self.envelope(response)
        if answer.get("flag") == "success":
            return
        code = str(answer.get("code") or "failure")
        raise self.errors.error_for(code, instance=self.config.name, status=response.status_code,
                                    detail=str(answer.get("message") or "")[:300],
                                    retry_after=1.0 if code == "7" else None)

    # -- the ERP→WMS methods ------------------------------------------------------------------
    async def create_delivery_order(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("deliveryorder.create", document)

    async def create_stockout(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("stockout.create", document)

    async def create_entry_order(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("entryorder.create", document)

    async def create_return_order(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("returnorder.create", document)

    async def cancel_order(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return await self.call("order.cancel", document)

    async def query_inventory(self, criteria: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        answer = await self.call("inventory.query", {"criteriaList": [dict(c) for c in criteria]})
        items = answer.get("items") or []
        return [dict(item) for item in items if isinstance(item, Mapping)]
