"""JD JOS client: signed ``/routerjson`` calls, JD's envelopes and codes, token refresh.

Every call is signed afresh (timestamp in GMT+8); ``error_response`` codes are classified by
``codes.ERRORS`` (``19`` → refresh the access token once and retry; ``18`` → rate limited; ``66``/``67``
→ retried). Success answers are read from the ``<method_with_underscores>_responce`` root (JD's
spelling; ``_response`` and "first root key" are accepted too, as JD's own Java parser does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.base import (
    AuthError,
    BaseClient,
    InstanceConfig,
    NotFound,
    RetryPolicy,
    TokenExpired,
    TransientError,
    ValidationError,
)

from . import codes
from .signing import format_timestamp, response_root, signed_params

DEFAULT_RATE = 10.0  # calls/s per shop; JD's per-API limits are set per app in the console
DEFAULT_BURST = 10.0


class JdClient(BaseClient):
    """Calls JD for one shop. Credentials: ``app_key``, ``app_secret``, ``access_token``, optional
    ``refresh_token``. Settings: ``gateway_path`` (default ``/routerjson``), ``oauth_base_url``
    (default: ``base_url``; production ``https://open-oauth.jd.com``), ``sign_method``."""

    def __init__(
        self,
        config: InstanceConfig,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_tokens: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(config, errors=codes.ERRORS, rate=DEFAULT_RATE, burst=DEFAULT_BURST, retry=retry)
        self.clock = clock
        self.on_tokens = on_tokens
        self.access_token = config.credentials.get("access_token") or None
        self.refresh_token = config.credentials.get("refresh_token") or None
        self.path = str(config.setting("gateway_path", "/routerjson"))
        self.sign_method = str(config.setting("sign_method", "md5"))

    async def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """The payload under the method's root; raises ``ConnectorError`` subclasses only."""
        refreshed = False
        while True:
            params = signed_params(
                app_key=self.config.credential("app_key"),
                app_secret=self.config.credential("app_secret"),
                method=method,
                business=business,
                access_token=self.access_token,
                timestamp=format_timestamp(datetime.fromtimestamp(self.clock(), UTC)),
                sign_method=self.sign_method,
            )
            try:
                response = await self.request("POST", self.path, data=params)
            except TokenExpired:
                if refreshed or not self.refresh_token:
                    raise
                await self.refresh()
                refreshed = True
                continue
            return self._payload(method, response.json())

    def check(self, response: httpx.Response) -> None:
        super().check(response)
        if not response.url.path.endswith(self.path):
            return
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientError(
                "JD answered with something that is not JSON", instance=self.config.name, detail=response.text[:200]
            ) from exc
        error = body.get("error_response") if isinstance(body, dict) else None
        if error is not None:
            code = str(error.get("code", ""))
            raise self.errors.error_for(
                code,
                instance=self.config.name,
                status=response.status_code,
                detail=f"{error.get('zh_desc', '')} / {error.get('en_desc', '')}",
                retry_after=1.0 if code == codes.CALL_LIMITED.code else None,
            )

    def _payload(self, method: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body:
            raise ValidationError("JD answer has no root object", instance=self.config.name, detail=str(body)[:200])
        root = response_root(method)
        payload = body.get(root, body.get(root.replace("_responce", "_response")))
        if payload is None:
            payload = next(iter(body.values()))
        if not isinstance(payload, dict):
            raise ValidationError("JD answer root is not an object", instance=self.config.name, detail=str(body)[:200])
        if payload.get("success") is False:
            key = "sku-not-found" if payload.get("errCode") == "SKU_NOT_EXIST" else "business"
            raise self.errors.error_for(
                key, instance=self.config.name, status=200, detail=f"{payload.get('errCode')}: {payload.get('errMsg')}"
            )
        return payload

    async def refresh(self) -> None:
        """Trade the refresh token for a new pair at JD's OAuth server (``/oauth2/refresh_token``)."""
        base = str(self.config.setting("oauth_base_url", "")) or str(self.config.base_url)
        params = {
            "app_key": self.config.credential("app_key"),
            "app_secret": self.config.credential("app_secret"),
            "grant_type": "refresh_token",
            "refresh_token": self.refresh_token or "",
        }
        response = await self.request("GET", base.rstrip("/") + "/oauth2/refresh_token", params=params)
        body = response.json()
        if not body.get("access_token"):
            raise AuthError(
                "JD refused to refresh the access token; re-authorise the shop",
                instance=self.config.name,
                code=str(body.get("code")),
                detail=str(body.get("msg")),
            )
        self.access_token, self.refresh_token = body["access_token"], body.get("refresh_token", self.refresh_token)
        if self.on_tokens:
            self.on_tokens(
                {
                    "access_token": self.access_token,
                    "refresh_token": self.refresh_token,
                    "expires_in": body.get("expires_in"),
                }
            )


def listing_sku_id(config: InstanceConfig, sku: str) -> int:
    """JD's numeric skuId for our SKU, from ``listings[sku]["sku_id"]`` (or the SKU itself if numeric)."""
    entry = config.listings.get(sku) or {}
    raw = entry.get("sku_id", entry.get("skuId", sku))
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise NotFound(f"SKU {sku!r} has no JD listing (listings.{sku}.sku_id)", instance=config.name) from None
