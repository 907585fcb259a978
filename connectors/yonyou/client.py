"""YonBIP open-API client: self-built-app token (HMAC-SHA256 signed), `{code,message,data}` answers.

Token: GET {token_url}/open-auth/selfAppAuth/getAccessToken?appKey&timestamp(ms)&signature, cached
until 60 s before `expire`; a `非法token` answer (text/plain) refreshes it once and retries.
Business codes: "200"/"00000" ok; anything else → `VoucherRefused` with Yonyou's own message
(permanent); HTTP 429 → RateLimited (Retry-After); 5xx/timeouts → TransientError.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from connectors.base import AuthError, BaseClient, InstanceConfig, RetryPolicy, TokenExpired
from connectors.vouchers.erp import VoucherRefused
from connectors.yonyou import signing

OK_CODES = ("200", "00000")


class YonyouClient(BaseClient):
    """One YonBIP tenant. `config.base_url` is the gateway URL (data.gatewayUrl); settings
    `token_url` (default `{base_url}/iuap-api-auth`), `rate_limit_per_second` (default 40/min).
    Credentials: `app_key`, `app_secret`."""

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config, rate=float(config.setting("rate_limit_per_second", 40 / 60)),
                         burst=float(config.setting("rate_limit_burst", 5)), retry=retry)
        self.token_url = str(config.setting("token_url", config.base_url.rstrip("/") + "/iuap-api-auth")).rstrip("/")
        self.token: str | None = None
        self.token_expires = 0.0

    async def fetch_token(self) -> str:
        ts = int(time.time() * 1000)
        app_key, secret = self.config.credential("app_key"), self.config.credential("app_secret")
        params = {"appKey": app_key, "timestamp": str(ts),
                  "signature": signing.token_signature_raw(app_key, secret, ts)}
        response = await self.request("GET", f"{self.token_url}/open-auth/selfAppAuth/getAccessToken", params=params)
        answer = response.json()
        if str(answer.get("code")) != "00000" or not (answer.get("data") or {}).get("access_token"):
            raise AuthError("Yonyou token refused", instance=self.config.name, code=str(answer.get("code")),
                            detail=str(answer.get("message")))
        data = answer["data"]
        self.token = str(data["access_token"])
        self.token_expires = time.time() + float(data.get("expire", 7200)) - 60
        return self.token

    async def call(self, path: str, body: dict[str, Any], *, retry: bool = True) -> Any:
        """POST a business API; returns `data`. `retry=False` for saves (see connector)."""
        for attempt in (1, 2):
            if not self.token or time.time() >= self.token_expires:
                await self.fetch_token()
            send = self.request if retry else self.send_once
            try:
                response = await send("POST", path, params={"access_token": self.token}, json=body)
            except TokenExpired:
                self.token = None
                if attempt == 2:
                    raise
                continue
            answer = response.json()
            code = str(answer.get("code"))
            if code not in OK_CODES:
                raise VoucherRefused([str(answer.get("message", ""))], erp_code=code, instance=self.config.name)
            return answer.get("data")
        raise AssertionError("unreachable")  # pragma: no cover

    def check(self, response: httpx.Response) -> None:
        if response.headers.get("content-type", "").startswith("text/plain") and "非法token" in response.text:
            raise TokenExpired("Yonyou says 非法token", instance=self.config.name, status=response.status_code)
        super().check(response)
