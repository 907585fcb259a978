"""Kingdee K/3 Cloud WebAPI client: login (four ways), DynamicFormService calls, error mapping.

Auth modes (setting `auth`):
  * `password`      ValidateUser(acctID, username, password, lcid) → session cookie
  * `app_secret`    LoginByAppSecret(acctID, username, appId, appSecret, lcid) → session cookie
  * `sign`          LoginBySign(acctID, username, appId, timestamp, sign, lcid) → session cookie
  * `signed_headers` no login: X-Api-*/X-Kd-* headers on every request (the official SDK's way)
A lost session (`MsgCode 1`) triggers one re-login and one retry.

Errors: HTTP 519 from the gateway (bad X-Api signature / timestamp) → AuthError; `IsSuccess:false`
→ `VoucherRefused` with Kingdee's own messages (permanent); timeouts/5xx → TransientError.
`call(..., retry=False)` is for Save: a blind retry could post twice, so the connector queries
by voucher key instead.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from connectors.base import (
    AuthError,
    BaseClient,
    ErrorResolution,
    ErrorTable,
    InstanceConfig,
    ResponseAction,
    RetryPolicy,
)
from connectors.kingdee import signing
from connectors.vouchers.erp import VoucherRefused

AUTH = "Kingdee.BOS.WebApi.ServicesStub.AuthService."
FORM = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService."
MSG_SESSION_LOST = 1

KINGDEE_ERRORS = ErrorTable.default().extend({
    519: ErrorResolution(ResponseAction.FAIL, AuthError, "Kingdee gateway refused the request signature"),
})


class KingdeeClient(BaseClient):
    """One K/3 Cloud tenant (data centre + user). `config.base_url` is the server URL, e.g.
    `https://erp.example.com/k3cloud/`. Settings: `auth`, `acct_id`, `username`, `lcid` (2052),
    `org_num` (0). Credentials: `password` or `app_id` + `app_secret`."""

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config, errors=KINGDEE_ERRORS, rate=float(config.setting("rate_limit_per_second", 10)),
                         burst=float(config.setting("rate_limit_burst", 10)), retry=retry)
        self.server_url = config.base_url.rstrip("/") + "/"
        self.auth = str(config.setting("auth", "password"))
        if self.auth not in ("password", "app_secret", "sign", "signed_headers"):
            raise AuthError(f"unknown Kingdee auth mode {self.auth!r}", instance=config.name)
        self.acct_id = str(config.setting("acct_id", ""))
        self.username = str(config.setting("username", ""))
        self.lcid = int(config.setting("lcid", 2052))
        self.org_num = config.setting("org_num", 0)
        self.session_id: str | None = None

    def url(self, service: str) -> str:
        return f"{self.server_url}{service}.common.kdsvc"

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept-Charset": "utf-8"}
        if self.auth == "signed_headers":
            headers.update(signing.signed_headers(
                url, app_id=self.config.credential("app_id"), app_secret=self.config.credential("app_secret"),
                acct_id=self.acct_id, username=self.username, lcid=self.lcid, org_num=self.org_num,
                timestamp=int(time.time())))
        elif self.session_id:
            headers["kdservice-sessionid"] = self.session_id
            headers["Cookie"] = f"kdservice-sessionid={self.session_id}"
        return headers

    async def login(self) -> str:
        """Log in with the configured mode; returns the session id (AuthError with Kingdee's message)."""
        ts = int(time.time())
        if self.auth == "password":
            service = AUTH + "ValidateUser"
            params = [self.acct_id, self.username, self.config.credential("password"), self.lcid]
        elif self.auth == "app_secret":
            service = AUTH + "LoginByAppSecret"
            params = [self.acct_id, self.username, self.config.credential("app_id"),
                      self.config.credential("app_secret"), self.lcid]
        elif self.auth == "sign":
            app_id, secret = self.config.credential("app_id"), self.config.credential("app_secret")
            service = AUTH + "LoginBySign"
            sign = signing.login_sign(self.acct_id, self.username, app_id, secret, ts)
            params = [self.acct_id, self.username, app_id, ts, sign, self.lcid]
        else:
            return ""
        body = {"format": 1, "useragent": "ApiClient", "rid": str(uuid.uuid4().int % 10**9),
                "parameters": params, "timestamp": time.strftime("%Y-%m-%d"), "v": "1.0"}
        response = await self.request("POST", self.url(service), content=_dumps(body),
                                      headers={"Content-Type": "application/json"})
        answer = response.json()
        if answer.get("LoginResultType") != 1 or not answer.get("KDSVCSessionId"):
            raise AuthError("Kingdee login refused", instance=self.config.name,
                            detail=str(answer.get("Message") or answer.get("MessageCode") or "LoginResultType != 1"))
        self.session_id = str(answer["KDSVCSessionId"])
        return self.session_id

    async def call(self, service: str, payload: dict[str, Any], *, retry: bool = True) -> Any:
        """POST a DynamicFormService call; returns the parsed answer or raises a ConnectorError."""
        if self.auth != "signed_headers" and not self.session_id:
            await self.login()
        for attempt in (1, 2):
            url = self.url(FORM + service)
            send = self.request if retry else self.send_once
            response = await send("POST", url, content=_dumps(payload), headers=self._headers(url))
            answer = response.json()
            status = _response_status(answer)
            if status is None or status.get("IsSuccess", True) is not False:
                return answer
            if status.get("MsgCode") == MSG_SESSION_LOST and attempt == 1 and self.auth != "signed_headers":
                self.session_id = None
                await self.login()
                continue
            messages = [str(e.get("Message", "")) for e in status.get("Errors") or []]
            if status.get("MsgCode") == MSG_SESSION_LOST:
                raise AuthError("Kingdee session refused", instance=self.config.name, detail="; ".join(messages))
            raise VoucherRefused(messages, erp_code=f"MsgCode{status.get('MsgCode')}", instance=self.config.name)
        raise AssertionError("unreachable")  # pragma: no cover

    def check(self, response: httpx.Response) -> None:
        if response.status_code == 519:
            try:
                detail = json.dumps(response.json(), ensure_ascii=False)
            except ValueError:
                detail = response.text[:200]
            raise self.errors.error_for(519, instance=self.config.name, detail=detail)
        super().check(response)

    async def save(self, form_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Save once, never retried here (see module doc); returns `Result`."""
        return (await self.call("Save", {"formid": form_id, "data": data}, retry=False))["Result"]

    async def submit(self, form_id: str, ids: list[str]) -> dict[str, Any]:
        return (await self.call("Submit", {"formid": form_id, "data": {"CreateOrgId": 0, "Numbers": [],
                                                                       "Ids": ",".join(ids)}}))["Result"]

    async def audit(self, form_id: str, ids: list[str]) -> dict[str, Any]:
        return (await self.call("Audit", {"formid": form_id, "data": {"CreateOrgId": 0, "Numbers": [],
                                                                      "Ids": ",".join(ids)}}))["Result"]

    async def delete(self, form_id: str, ids: list[str]) -> dict[str, Any]:
        return (await self.call("Delete", {"formid": form_id, "data": {"CreateOrgId": 0, "Numbers": [],
                                                                       "Ids": ",".join(ids)}}))["Result"]

    async def view(self, form_id: str, *, id: str | None = None, number: str | None = None) -> dict[str, Any]:
        data = {"CreateOrgId": 0, "Number": number or "", "Id": id or ""}
        return (await self.call("View", {"formid": form_id, "data": data}))["Result"]["Result"]

    async def bill_query(
        self, form_id: str, field_keys: list[str], filter_string: str = "", *, page_size: int = 2000
    ) -> list[list[Any]]:
        """All rows of ExecuteBillQuery, paging with StartRow/Limit."""
        rows: list[list[Any]] = []
        while True:
            data = {"FormId": form_id, "FieldKeys": ",".join(field_keys), "FilterString": filter_string,
                    "OrderString": "", "TopRowCount": 0, "StartRow": len(rows), "Limit": page_size}
            page = await self.call("ExecuteBillQuery", {"data": data})
            if not isinstance(page, list):
                raise VoucherRefused([f"unexpected ExecuteBillQuery answer: {str(page)[:200]}"],
                                     erp_code="shape", instance=self.config.name)
            rows.extend(page)
            if len(page) < page_size:
                return rows


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=True).encode()  # CJK as \uXXXX, as Kingdee's own clients send


def _response_status(answer: Any) -> dict[str, Any] | None:
    """`Result.ResponseStatus`, also inside ExecuteBillQuery's error form `[[{"Result": ...}]]`."""
    if isinstance(answer, list) and answer and isinstance(answer[0], list) and answer[0] \
            and isinstance(answer[0][0], dict):
        answer = answer[0][0]
    if isinstance(answer, dict):
        result = answer.get("Result")
        if isinstance(result, dict) and isinstance(result.get("ResponseStatus"), dict):
            return result["ResponseStatus"]
    return None
