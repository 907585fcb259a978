"""JD JOS system error codes, shared by the client (to classify) and the sandbox (to answer).

JD answers errors as ``{"error_response": {"code": "19", "zh_desc": "...", "en_desc": "..."}}`` with
the code as a STRING. Provenance (see docs/connectors/jd.md in the report): 12/15/19/21 are seen in
public client code and issue threads quoting real answers; 11 (timestamp) and 18 (call limit) are
not confirmed anywhere public and are our best reading — kept in this one table so a correction is
one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import (
    AuthError,
    ErrorResolution,
    ErrorTable,
    NotFound,
    RateLimited,
    ResponseAction,
    TokenExpired,
    TransientError,
    ValidationError,
)


@dataclass(frozen=True, slots=True)
class JdCode:
    code: str
    zh_desc: str
    en_desc: str


INVALID_TIMESTAMP = JdCode("11", "无效的时间戳", "Invalid timestamp")  # [UNVERIFIED code]
INVALID_SIGNATURE = JdCode("12", "无效签名", "Invalid signature")
INVALID_METHOD = JdCode("15", "不存在的方法名", "Invalid Method")
CALL_LIMITED = JdCode("18", "调用次数超限", "Call limited")  # [UNVERIFIED code]
INVALID_TOKEN = JdCode("19", "无效access_token", "Invalid access_token")
INVALID_APP_KEY = JdCode("21", "无效app_key", "Invalid app_key")
MISSING_PARAM = JdCode("9", "缺少必选参数", "Missing required arguments")  # [UNVERIFIED code]
BACKEND_TIMEOUT = JdCode("66", "平台连接后端服务超时", "Backend service timeout")  # [UNVERIFIED code]
BACKEND_DOWN = JdCode("67", "平台连接后端服务不可用", "Backend service unavailable")  # [UNVERIFIED code]

ALL = (
    INVALID_TIMESTAMP,
    INVALID_SIGNATURE,
    INVALID_METHOD,
    CALL_LIMITED,
    INVALID_TOKEN,
    INVALID_APP_KEY,
    MISSING_PARAM,
    BACKEND_TIMEOUT,
    BACKEND_DOWN,
)

ERRORS = ErrorTable.default().extend(
    {
        "9": ErrorResolution(ResponseAction.FAIL, ValidationError, "missing required JD parameter"),
        "11": ErrorResolution(ResponseAction.RETRY, TransientError, "JD refused the timestamp (clock skew?)"),
        "12": ErrorResolution(ResponseAction.FAIL, AuthError, "JD refused the signature (wrong app_secret?)"),
        "15": ErrorResolution(ResponseAction.FAIL, ValidationError, "JD does not know this method"),
        "18": ErrorResolution(ResponseAction.RATE_LIMITED, RateLimited, "JD call limit reached"),
        "19": ErrorResolution(
            ResponseAction.REFRESH_TOKEN_THEN_RETRY, TokenExpired, "JD access_token invalid or expired"
        ),
        "21": ErrorResolution(ResponseAction.FAIL, AuthError, "JD does not know this app_key"),
        "66": ErrorResolution(ResponseAction.RETRY, TransientError, "JD backend timed out"),
        "67": ErrorResolution(ResponseAction.RETRY, TransientError, "JD backend unavailable"),
        "sku-not-found": ErrorResolution(ResponseAction.FAIL, NotFound, "JD does not know this skuId"),
        "business": ErrorResolution(ResponseAction.FAIL, ValidationError, "JD refused the request"),
    }
)


def error_body(code: JdCode) -> dict[str, dict[str, str]]:
    """The JSON body JD sends for a system error."""
    return {"error_response": {"code": code.code, "zh_desc": code.zh_desc, "en_desc": code.en_desc}}
