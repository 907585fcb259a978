"""Kuaidi100 client: real-time query (/poll/query.do) and subscription (/poll).

Kuaidi100 answers HTTP 200 for its own errors with ``{"result": false, "returnCode": "..."}``;
``check`` turns those into the table's errors. Credentials: ``key`` (授权key), ``customer``
(公司编号). Settings: ``query_path`` (/poll/query.do), ``subscribe_path`` (/poll).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors.base import (
    AuthError,
    BaseClient,
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

from .signing import query_sign

__all__ = ["KUAIDI100_ERRORS", "Kuaidi100Client"]

KUAIDI100_ERRORS = ErrorTable.default().extend(
    {
        "400": ErrorResolution(ResponseAction.FAIL, ValidationError, "incomplete or invalid parameters"),
        "500": ErrorResolution(ResponseAction.FAIL, NotFound, "no tracking result (yet)"),
        "501": ErrorResolution(ResponseAction.RETRY, TransientError, "server error"),
        "502": ErrorResolution(ResponseAction.RATE_LIMITED, RateLimited, "server busy / query too frequent"),
        "503": ErrorResolution(ResponseAction.FAIL, AuthError, "signature check failed"),
        "601": ErrorResolution(ResponseAction.FAIL, AuthError, "key expired or no balance"),
    }
)


class Kuaidi100Client(BaseClient):
    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config, errors=KUAIDI100_ERRORS, rate=float(config.settings.get("rate", 10)),
                         burst=float(config.settings.get("burst", 10)), retry=retry)
        self.key = config.credential("key")
        self.customer = config.credential("customer")
        self.query_path = str(config.settings.get("query_path", "/poll/query.do"))
        self.subscribe_path = str(config.settings.get("subscribe_path", "/poll"))

    def check(self, response: httpx.Response) -> None:
        super().check(response)
        body = response.json()
        if not isinstance(body, dict):
            raise TransientError("Kuaidi100 answer is not a JSON object", instance=self.config.name)
        if body.get("result") is False:
            code = str(body.get("returnCode") or "failure")
            raise self.errors.error_for(code, instance=self.config.name, status=response.status_code,
                                        detail=str(body.get("message") or "")[:200],
                                        retry_after=1.0 if code == "502" else None)

    async def query(self, number: str, company: str, *, phone: str = "", order: str = "desc") -> dict[str, Any]:
        """The tracking JSON of one parcel (``state``, ``ischeck``, ``data`` newest first)."""
        param = json.dumps({"com": company, "num": number, "phone": phone, "from": "", "to": "", "resultv2": "1",
                            "show": "0", "order": order}, ensure_ascii=False, separators=(",", ":"))
        form = {"customer": self.customer, "param": param, "sign": query_sign(param, self.key, self.customer)}
        response = await self.request("POST", self.query_path, data=form)
        result: dict[str, Any] = response.json()
        return result

    async def subscribe(self, number: str, company: str, *, callback_url: str, salt: str, phone: str = "") -> None:
        """Ask Kuaidi100 to push this parcel's updates to ``callback_url`` signed with ``salt``."""
        if len(salt) > 32:
            raise ValidationError("Kuaidi100 salt is at most 32 characters", instance=self.config.name)
        param = json.dumps({"company": company, "number": number, "from": "", "to": "", "key": self.key,
                            "parameters": {"callbackurl": callback_url, "salt": salt, "resultv2": "1",
                                           "autoCom": "0", "interCom": "0", "phone": phone}},
                           ensure_ascii=False, separators=(",", ":"))
        await self.request("POST", self.subscribe_path, data={"schema": "json", "param": param})
