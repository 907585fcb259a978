"""Douyin (抖店) open-platform client: signed calls, the code/sub_code envelope, token upkeep.

Each call: ``POST {base}/{path}?app_key&method&access_token&timestamp&v=2&sign_method=hmac-sha256&sign``
with body = the sorted compact ``param_json`` that was signed (timestamp in unix seconds, as the
official Go SDK sends). We send ``x-open-no-old-err-code: 1`` and read ``code``/``sub_code``:
10000 is success; ``isv.access-token-expired``/``-no-existed`` → refresh once and retry;
60000 → rate limited; ``isv.idempotent-id-existed`` → the write was applied before (not an error).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.base import (
    AuthError,
    BaseClient,
    InstanceConfig,
    ResponseAction,
    RetryPolicy,
    TokenExpired,
    TransientError,
)

from . import codes
from .signing import canonical_json, method_for_path, sign

DEFAULT_RATE = 20.0  # calls/s per shop; Douyin sets per-API QPS per app
DEFAULT_BURST = 20.0


class Answer(dict[str, Any]):
    """The ``data`` of an answer; ``duplicate`` is True when Douyin said the idempotent_id was used."""

    duplicate: bool = False


class DouyinClient(BaseClient):
    """Calls Douyin for one shop. Credentials: ``app_key``, ``app_secret``, ``access_token``, optional
    ``refresh_token`` and ``shop_id`` (self-use apps re-create tokens with ``authorization_self``)."""

    def __init__(
        self,
        config: InstanceConfig,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        on_tokens: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        super().__init__(
            config,
            errors=codes.ERRORS,
            rate=DEFAULT_RATE,
            burst=DEFAULT_BURST,
            retry=retry,
            headers={"Content-Type": "application/json", "x-open-no-old-err-code": "1"},
        )
        self.clock, self.on_tokens = clock, on_tokens
        self.access_token = config.credentials.get("access_token") or None
        self.refresh_token = config.credentials.get("refresh_token") or None
        self.sign_method = str(config.setting("sign_method", "hmac-sha256"))

    def signed(self, path: str, params: Mapping[str, Any], *, with_token: bool) -> tuple[dict[str, str], str]:
        """Query params and body for one call."""
        method = method_for_path(path)
        param_json = canonical_json(dict(params))
        timestamp = str(int(self.clock()))
        query = {
            "app_key": self.config.credential("app_key"),
            "method": method,
            "timestamp": timestamp,
            "v": "2",
            "sign_method": self.sign_method,
        }
        if with_token and self.access_token:
            query["access_token"] = self.access_token
        query["sign"] = sign(
            query["app_key"], self.config.credential("app_secret"), method, param_json, timestamp, self.sign_method
        )
        return query, param_json

    async def call(self, path: str, params: Mapping[str, Any]) -> Answer:
        """The ``data`` of a successful answer; raises ``ConnectorError`` subclasses only."""
        refreshed = False
        while True:
            query, body = self.signed(path, params, with_token=True)
            try:
                response = await self.request("POST", path, params=query, content=body.encode())
            except TokenExpired:
                if refreshed:
                    raise
                await self.renew()
                refreshed = True
                continue
            return self._answer(response)

    def _answer(self, response: httpx.Response) -> Answer:
        body = response.json()
        answer = Answer(body.get("data") or {})
        answer.duplicate = body.get("sub_code") == codes.IDEMPOTENT_EXISTED.sub_code
        return answer

    def check(self, response: httpx.Response) -> None:
        super().check(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise TransientError(
                "Douyin answered with something that is not JSON", instance=self.config.name, detail=response.text[:200]
            ) from exc
        if not isinstance(body, dict):
            raise TransientError("Douyin answer is not an object", instance=self.config.name, detail=str(body)[:200])
        code = body.get("code", body.get("err_no"))
        if code in (codes.SUCCESS, 0):
            return
        key = codes.lookup_key(int(code or 0), body.get("sub_code"))
        reason = body.get("sub_msg") or body.get("msg") or body.get("message")
        if self.errors.resolve(key).action is ResponseAction.IGNORE:
            return
        raise self.errors.error_for(
            key,
            instance=self.config.name,
            status=response.status_code,
            detail=f"{code} {body.get('sub_code', '')}: {reason}"[:300],
            retry_after=1.0 if code == codes.FLOW_LIMITED.code else None,
        )

    async def renew(self) -> None:
        """Get a fresh access token: ``/token/refresh`` with the refresh token, else (self-use apps)
        ``/token/create`` with ``authorization_self`` and the shop_id."""
        if self.refresh_token:
            path, params = "/token/refresh", {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        elif self.config.credentials.get("shop_id"):
            path, params = (
                "/token/create",
                {"grant_type": "authorization_self", "shop_id": self.config.credentials["shop_id"], "code": ""},
            )
        else:
            raise AuthError(
                "Douyin access token expired and no refresh_token or shop_id to renew it", instance=self.config.name
            )
        await self.create_token(path, params)

    async def create_token(self, path: str, params: Mapping[str, Any]) -> Answer:
        """Call ``/token/create`` or ``/token/refresh`` (signed, no access_token) and keep the result."""
        query, body = self.signed(path, params, with_token=False)
        response = await self.request("POST", path, params=query, content=body.encode())
        data = self._answer(response)
        if not data.get("access_token"):
            raise AuthError("Douyin token answer has no access_token", instance=self.config.name)
        self.access_token = str(data["access_token"])
        self.refresh_token = str(data.get("refresh_token") or self.refresh_token or "") or None
        if self.on_tokens:
            self.on_tokens(
                {
                    "access_token": self.access_token,
                    "refresh_token": self.refresh_token,
                    "expires_in": data.get("expires_in"),
                }
            )
        return data
