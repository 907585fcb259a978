"""TopClient: signed TOP gateway calls for one shop, its session refresh, and TOP's error table.

Why a subclass of ``BaseClient``: the rate limit, retries and httpx translation are shared; what
is TOP's own is here — system parameters and signing (``signing.py``), the ``error_response``
envelope (HTTP 200 for every business error), the session (access token) that expires and is
refreshed with ``taobao.top.auth.token.refresh`` before it does, and which codes are worth a retry.

Error classification (TOP platform codes are < 100; ``isp.*`` sub-codes are the platform's own
trouble and worth a retry, ``isv.*`` are the caller's)::

    7  App Call Limited      -> RateLimited(retry_after = N from "This ban will last for N more seconds")
    10 Service Unavailable   -> TransientError
    15 Remote service error  -> isp.* TransientError; isv.*-not-exist NotFound; other isv.* ValidationError
    24/25/28/29 sign/app key -> AuthError          26/27 session -> TokenExpired (refresh, retry once)
    11/12/13 permissions     -> AuthError          21-23, 30-34, 40-43 -> ValidationError
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx

from connectors.base import (
    AuthError,
    BaseClient,
    ConnectorError,
    ErrorResolution,
    ErrorTable,
    InstanceConfig,
    NotFound,
    PermanentError,
    RateLimited,
    ResponseAction,
    RetryPolicy,
    TokenExpired,
    TransientError,
    ValidationError,
)

from .signing import SIGN_METHODS, format_timestamp, millis_timestamp, sign_params

__all__ = ["TOP_ERRORS", "TopAuth", "TopClient", "TopSession", "build_request", "response_root"]

DEFAULT_GATEWAY_PATH = "/router/rest"
_BAN = re.compile(r"ban will last for (\d+) more seconds", re.I)

_R = ResponseAction
TOP_ERRORS = ErrorTable.default().extend({
    "7": ErrorResolution(_R.RATE_LIMITED, RateLimited, "App Call Limited"),
    "10": ErrorResolution(_R.RETRY, TransientError, "Service Currently Unavailable"),
    "11": ErrorResolution(_R.FAIL, AuthError, "Insufficient ISV Permissions"),
    "12": ErrorResolution(_R.FAIL, AuthError, "Insufficient User Permissions"),
    "13": ErrorResolution(_R.FAIL, AuthError, "Insufficient Partner Permissions"),
    "15": ErrorResolution(_R.FAIL, ValidationError, "Remote service error"),
    "21": ErrorResolution(_R.FAIL, ValidationError, "Missing Method"),
    "22": ErrorResolution(_R.FAIL, ValidationError, "Invalid Method"),
    "23": ErrorResolution(_R.FAIL, ValidationError, "Invalid Format"),
    "24": ErrorResolution(_R.FAIL, AuthError, "Missing Signature"),
    "25": ErrorResolution(_R.FAIL, AuthError, "Invalid Signature (wrong app_secret?)"),
    "26": ErrorResolution(_R.REFRESH_TOKEN_THEN_RETRY, TokenExpired, "Missing Session"),
    "27": ErrorResolution(_R.REFRESH_TOKEN_THEN_RETRY, TokenExpired, "Invalid Session"),
    "28": ErrorResolution(_R.FAIL, AuthError, "Missing App Key"),
    "29": ErrorResolution(_R.FAIL, AuthError, "Invalid App Key"),
    "30": ErrorResolution(_R.FAIL, ValidationError, "Missing Timestamp"),
    "31": ErrorResolution(_R.FAIL, ValidationError, "Invalid Timestamp (clock skew > 10 min?)"),
    "32": ErrorResolution(_R.FAIL, ValidationError, "Missing Version"),
    "33": ErrorResolution(_R.FAIL, ValidationError, "Invalid Version"),
    "34": ErrorResolution(_R.FAIL, ValidationError, "Unsupported Version"),
    "40": ErrorResolution(_R.FAIL, ValidationError, "Missing Required Arguments"),
    "41": ErrorResolution(_R.FAIL, ValidationError, "Invalid Arguments"),
    "42": ErrorResolution(_R.FAIL, PermanentError, "Forbidden Request"),
    "43": ErrorResolution(_R.FAIL, ValidationError, "Parameter Error"),
    "isv.item-not-exist": ErrorResolution(_R.FAIL, NotFound, "item does not exist"),
    "isv.item-sku-not-exist": ErrorResolution(_R.FAIL, NotFound, "SKU does not exist"),
    "isv.trade-not-exist": ErrorResolution(_R.FAIL, NotFound, "trade does not exist"),
    "invalid-refresh-token": ErrorResolution(_R.FAIL, AuthError, "refresh token invalid or expired"),
})


def response_root(method: str) -> str:
    """``taobao.item.quantity.update`` -> ``item_quantity_update_response``."""
    name = method[len("taobao."):] if method.startswith("taobao.") else method
    return name.replace(".", "_") + "_response"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_request(
    method: str,
    params: Mapping[str, object],
    *,
    app_key: str,
    app_secret: str,
    session: str | None = None,
    sign_method: str = "hmac-sha256",
    timestamp_form: str = "datetime",
    now: datetime | None = None,
) -> dict[str, str]:
    """All parameters of one TOP call, signed (pure: the tests build vectors with it).

    ``timestamp_form``: ``"datetime"`` (``yyyy-MM-dd HH:mm:ss`` GMT+8, the Java SDK) or
    ``"millis"`` (epoch milliseconds, the official Python SDK). ``None`` values are dropped.
    """
    if sign_method not in SIGN_METHODS:
        raise ValueError(f"sign_method must be one of {SIGN_METHODS}, got {sign_method!r}")
    moment = now or datetime.now(UTC)
    if timestamp_form == "datetime":
        stamp = format_timestamp(moment)
    elif timestamp_form == "millis":
        stamp = millis_timestamp(moment)
    else:
        raise ValueError(f"timestamp_form must be 'datetime' or 'millis', got {timestamp_form!r}")
    out = {"method": method, "app_key": app_key, "timestamp": stamp, "v": "2.0", "format": "json",
           "sign_method": sign_method, "partner_id": "zhongshu"}
    if session:
        out["session"] = session
    out.update({k: _text(v) for k, v in params.items() if v is not None})
    out["sign"] = sign_params(out, app_secret, sign_method)
    return out


class TopAuth(httpx.Auth):
    """Signs each outgoing gateway request at send time, so every retry carries a fresh timestamp.

    The request is built with the call's own parameters as a form (``method``, business
    parameters, ``session`` if any); ``auth_flow`` adds the system parameters and the sign.

    ``httpx.AsyncClient(auth=TopAuth(app_key="12345678", app_secret="...", sign_method="md5"))``
    """

    requires_request_body = True

    def __init__(self, *, app_key: str, app_secret: str, sign_method: str = "hmac-sha256",
                 timestamp_form: str = "datetime") -> None:
        self.app_key, self.app_secret = app_key, app_secret
        self.sign_method, self.timestamp_form = sign_method, timestamp_form

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        params = dict(parse_qsl(request.content.decode("utf-8"), keep_blank_values=True))
        method = params.pop("method", "")
        session = params.pop("session", None)
        signed = build_request(method, params, app_key=self.app_key, app_secret=self.app_secret, session=session,
                               sign_method=self.sign_method, timestamp_form=self.timestamp_form)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        yield httpx.Request(request.method, request.url, headers=headers, data=signed, extensions=request.extensions)


@dataclass(frozen=True)
class TopSession:
    """One shop's authorisation. ``expires_at`` None: unknown (refresh only when TOP says 27)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    user_id: str | None = None
    nick: str | None = None

    def due(self, now: datetime, margin: timedelta) -> bool:
        return self.expires_at is not None and now >= self.expires_at - margin

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, str]) -> TopSession:
        raw = credentials.get("expires_at") or ""
        expires: datetime | None = None
        if raw:
            expires = (datetime.fromtimestamp(int(raw) / 1000, UTC) if raw.isdigit()
                       else datetime.fromisoformat(raw))
        token = credentials.get("access_token") or credentials.get("session") or ""
        return cls(access_token=token, refresh_token=credentials.get("refresh_token") or None, expires_at=expires)


class TopClient(BaseClient):
    """Signed calls to one TOP gateway for one shop.

    Settings: ``sign_method`` (default ``hmac-sha256``, the Java SDK's), ``timestamp_form``
    (``datetime``|``millis``), ``gateway_path`` (``/router/rest``), ``token_refresh_margin``
    seconds before expiry (default 600), rate/retry settings of ``BaseClient``.
    ``on_session`` is awaited with the new ``TopSession`` after every refresh, so the hub can
    persist the rotated refresh token.
    """

    def __init__(
        self,
        config: InstanceConfig,
        *,
        retry: RetryPolicy | None = None,
        on_session: Callable[[TopSession], Awaitable[None]] | None = None,
    ) -> None:
        self.app_key = config.credential("app_key")
        self.app_secret = config.credential("app_secret")
        self.sign_method = str(config.setting("sign_method", "hmac-sha256"))
        self.timestamp_form = str(config.setting("timestamp_form", "datetime"))
        auth = TopAuth(app_key=self.app_key, app_secret=self.app_secret, sign_method=self.sign_method,
                       timestamp_form=self.timestamp_form)
        super().__init__(config, errors=TOP_ERRORS, rate=10.0, burst=10.0, retry=retry, auth=auth,
                         headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
        self.gateway_path = str(config.setting("gateway_path", DEFAULT_GATEWAY_PATH))
        self.refresh_margin = timedelta(seconds=float(config.setting("token_refresh_margin", 600)))
        self.session = TopSession.from_credentials(config.credentials)
        self.on_session = on_session

    # -- envelope ---------------------------------------------------------------------------
    def check(self, response: httpx.Response) -> None:
        super().check(response)
        body = response.json()
        if not isinstance(body, dict):
            raise TransientError("TOP answer is not a JSON object", instance=self.config.name,
                                 detail=response.text[:200])
        error = body.get("error_response")
        if error is not None:
            raise self.error_from(error)

    def error_from(self, error: Mapping[str, Any]) -> ConnectorError:
        """The ``ConnectorError`` for one ``error_response``."""
        code = str(error.get("code", ""))
        sub_code = str(error.get("sub_code") or "")
        sub_msg = str(error.get("sub_msg") or "")
        detail = f"code={code} msg={error.get('msg')} sub_code={sub_code or '-'} sub_msg={sub_msg or '-'}"
        if code == "7":
            match = _BAN.search(sub_msg)
            return RateLimited(f"TOP App Call Limited ({sub_code or 'accesscontrol'})",
                               retry_after=float(match.group(1)) if match else None,
                               instance=self.config.name, code=code, status=200, detail=detail)
        if sub_code in self.errors.rows:
            key = sub_code
        elif sub_code.startswith("isp.") or (code == "15" and ".isp." in sub_code):
            return TransientError("TOP platform error, retry later", instance=self.config.name,
                                  code=sub_code, status=200, detail=detail)
        else:
            key = code
        exc = self.errors.error_for(key, instance=self.config.name, status=200, detail=detail)
        exc.code = code if key == code else f"{code}:{sub_code}"
        return exc

    # -- calls ------------------------------------------------------------------------------
    async def call(
        self,
        method: str,
        params: Mapping[str, object] | None = None,
        *,
        needs_session: bool = True,
        retry_transient: bool = True,
    ) -> dict[str, Any]:
        """Call ``method``; return the inside of ``<method>_response``.

        With ``needs_session`` the shop's session is sent, refreshed first when it is within
        ``token_refresh_margin`` of expiry, and refreshed once more (then retried) on code 26/27.
        ``retry_transient=False`` retries only rate-limit refusals (refused before execution):
        use it for calls that are not idempotent, such as ``type=2`` stock increments.
        """
        if needs_session and self.session.due(datetime.now(UTC), self.refresh_margin):
            await self.refresh_session()
        try:
            return await self._call_once(method, params or {}, needs_session, retry_transient)
        except TokenExpired:
            if not needs_session or not self.session.refresh_token:
                raise
            await self.refresh_session()
            return await self._call_once(method, params or {}, needs_session, retry_transient)

    async def _call_once(self, method: str, params: Mapping[str, object], needs_session: bool,
                         retry_transient: bool) -> dict[str, Any]:
        # TopAuth adds the system parameters and the sign when each attempt is sent
        data = {"method": method, **{k: _text(v) for k, v in params.items() if v is not None}}
        if needs_session:
            data["session"] = self.session.access_token
        if retry_transient:
            response = await self.request("POST", self.gateway_path, data=data)
        else:
            response = await self._send_rate_limit_retries_only(data)
        body = response.json()
        root = response_root(method)
        if root not in body:
            raise TransientError(f"TOP answer lacks {root}", instance=self.config.name, detail=response.text[:200])
        inner = body[root]
        return inner if isinstance(inner, dict) else {}

    async def _send_rate_limit_retries_only(self, data: Mapping[str, str]) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.send_once("POST", self.gateway_path, data=data)
            except RateLimited:
                if attempt >= self.retry.attempts:
                    raise
                # the bucket was paused by send_once; acquire() waits it out

    async def refresh_session(self) -> TopSession:
        """``taobao.top.auth.token.refresh``: rotate the shop's access and refresh tokens."""
        if not self.session.refresh_token:
            raise AuthError("TOP session expired and no refresh_token is configured", instance=self.config.name)
        body = await self._call_once("taobao.top.auth.token.refresh",
                                     {"refresh_token": self.session.refresh_token}, False, True)
        try:
            token = json.loads(body["token_result"])
            expires_at = None
            if token.get("expire_time"):
                expires_at = datetime.fromtimestamp(int(token["expire_time"]) / 1000, UTC)
            elif token.get("expires_in"):
                expires_at = datetime.now(UTC) + timedelta(seconds=int(token["expires_in"]))
            session = TopSession(access_token=token["access_token"],
                                 refresh_token=token.get("refresh_token") or self.session.refresh_token,
                                 expires_at=expires_at, user_id=token.get("taobao_user_id"),
                                 nick=token.get("taobao_user_nick"))
        except (KeyError, TypeError, ValueError) as exc:
            raise TransientError("malformed token_result", instance=self.config.name, detail=str(exc)) from exc
        self.session = session
        if self.on_session is not None:
            await self.on_session(session)
        return session

    def with_session(self, session: TopSession) -> None:
        """Install a session (e.g. one the hub loaded from its store)."""
        self.session = replace(session)
