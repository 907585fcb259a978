"""Douyin (抖店) platform error codes, shared by the client (to classify) and the sandbox (to answer).

Source: the platform's "平台基础错误码汇总" (op.jinritemai.com/docs/guide-docs/212/1427) as transcribed
in public client code (PHP ``Imactool\\Jinritemai\\Error\\ErrorCode``; Java ``ApiResponseConstant``), and
``isv.access-token-expired`` / ``isv.access-token-no-existed`` as the official Python/Java SDK
helpers test for. The rate-limit sub_code is not public: ``60000`` is.

New envelope: ``{"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "data": {...}, "log_id": "..."}``;
legacy fields ``err_no`` (0 = success) and ``message`` ride along unless the caller sends
``x-open-no-old-err-code: 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import (
    AuthError,
    ErrorResolution,
    ErrorTable,
    NotFound,
    PermanentError,
    RateLimited,
    ResponseAction,
    TokenExpired,
    TransientError,
    ValidationError,
)

SUCCESS = 10000


@dataclass(frozen=True, slots=True)
class DyCode:
    code: int
    msg: str
    sub_code: str = ""
    sub_msg: str = ""


SIGNATURE_MISSING = DyCode(
    40001, "缺少必选参数（平台校验）", "isv.signature-missing", "获取签名失败，请根据文档确保参数拼装正确"
)
APP_KEY_MISSING = DyCode(40001, "缺少必选参数（平台校验）", "isv.app-id-missing", "认证失败，app_key不存在")
TOKEN_MISSING = DyCode(40001, "缺少必选参数（平台校验）", "isv.access-token-missing", "认证失败，access_token不能为空")
SIGNATURE_INVALID = DyCode(40003, "非法的参数（平台校验）", "isv.signature-invalid", "签名校验失败")
TOKEN_EXPIRED = DyCode(40003, "非法的参数（平台校验）", "isv.access-token-expired", "access_token已过期")
TOKEN_UNKNOWN = DyCode(
    40003, "非法的参数（平台校验）", "isv.access-token-no-existed", "access_token不存在，请使用最新的access_token访问"
)
APP_KEY_INVALID = DyCode(
    40003, "非法的参数（平台校验）", "isv.app-id-invalid", "认证失败，app_key格式不正确，应为19位纯数字"
)
PARAM_FORMAT = DyCode(40003, "非法的参数（平台校验）", "isv.parameter-format-invalid", "业务参数json解析失败")
IDEMPOTENT_EXISTED = DyCode(40003, "非法的参数（平台校验）", "isv.idempotent-id-existed", "幂等ID重复")
TIMESTAMP_INVALID = DyCode(40003, "非法的参数（平台校验）", "isv.timestamp-invalid", "时间戳不合法")
TIMESTAMP_FORMAT = DyCode(40003, "非法的参数（平台校验）", "isv.timestamp-format-error", "时间戳格式错误")
BUSINESS_MISSING = DyCode(40002, "缺少必选参数（业务校验）", "isv.missing-parameter", "")
BUSINESS_INVALID = DyCode(40004, "非法的参数（业务校验）", "isv.business-failed", "")
TOKEN_GEN_SECRET = DyCode(
    50001,
    "平台处理失败",
    "dop.token-generate-failed:app-secret-invalid",
    "生成token失败，app_key不存在或者与app_secret不匹配",
)
TOKEN_GEN_INVALID = DyCode(
    50001, "平台处理失败", "dop.token-generate-failed:token-invalid", "生成token失败，token不存在"
)
TOKEN_GEN_GRANT = DyCode(
    50001, "平台处理失败", "dop.token-generate-failed:grant-type-invalid", "生成token失败，grant_type参数取值不正确"
)
BUSINESS_FAILED = DyCode(50002, "业务处理失败", "isv.business-failed", "")
SERVICE_ERROR = DyCode(20000, "服务不可用", "dop.service-error", "内部错误，请反馈客服或答疑群")
FLOW_LIMITED = DyCode(60000, "触发限流，请稍后重试", "", "")
API_OFF = DyCode(70000, "接口服务已下线", "isp.api-service-off", "API不存在或API已下线")

_SUB_ROWS = {
    SIGNATURE_MISSING.sub_code: ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin: signature missing"),
    APP_KEY_MISSING.sub_code: ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin: app_key missing"),
    TOKEN_MISSING.sub_code: ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin: access_token missing"),
    SIGNATURE_INVALID.sub_code: ErrorResolution(
        ResponseAction.FAIL, AuthError, "Douyin refused the signature (wrong app_secret?)"
    ),
    TOKEN_EXPIRED.sub_code: ErrorResolution(
        ResponseAction.REFRESH_TOKEN_THEN_RETRY, TokenExpired, "Douyin access_token expired"
    ),
    TOKEN_UNKNOWN.sub_code: ErrorResolution(
        ResponseAction.REFRESH_TOKEN_THEN_RETRY, TokenExpired, "Douyin access_token unknown"
    ),
    APP_KEY_INVALID.sub_code: ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin does not know this app_key"),
    PARAM_FORMAT.sub_code: ErrorResolution(ResponseAction.FAIL, ValidationError, "Douyin could not parse param_json"),
    IDEMPOTENT_EXISTED.sub_code: ErrorResolution(ResponseAction.IGNORE, None, "idempotent_id already applied"),
    TIMESTAMP_INVALID.sub_code: ErrorResolution(
        ResponseAction.RETRY, TransientError, "Douyin refused the timestamp (clock skew?)"
    ),
    TIMESTAMP_FORMAT.sub_code: ErrorResolution(
        ResponseAction.FAIL, ValidationError, "Douyin could not read the timestamp"
    ),
    TOKEN_GEN_SECRET.sub_code: ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin token: app_secret mismatch"),
    TOKEN_GEN_INVALID.sub_code: ErrorResolution(
        ResponseAction.FAIL, AuthError, "Douyin token: refresh_token unknown (re-authorise)"
    ),
    TOKEN_GEN_GRANT.sub_code: ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin token: grant_type wrong"),
    "isv.sku-not-found": ErrorResolution(ResponseAction.FAIL, NotFound, "Douyin does not know this sku"),
}

_CODE_ROWS = {
    "20000": ErrorResolution(ResponseAction.RETRY, TransientError, "Douyin service unavailable"),
    "20001": ErrorResolution(ResponseAction.RETRY, TransientError, "Douyin internal timeout"),
    "30001": ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin: permission denied"),
    "30002": ErrorResolution(ResponseAction.FAIL, AuthError, "Douyin: caller IP not in whitelist"),
    "40001": ErrorResolution(ResponseAction.FAIL, ValidationError, "Douyin: missing platform parameter"),
    "40002": ErrorResolution(ResponseAction.FAIL, ValidationError, "Douyin: missing business parameter"),
    "40003": ErrorResolution(ResponseAction.FAIL, ValidationError, "Douyin: invalid platform parameter"),
    "40004": ErrorResolution(ResponseAction.FAIL, ValidationError, "Douyin: invalid business parameter"),
    "50001": ErrorResolution(ResponseAction.FAIL, PermanentError, "Douyin: platform processing failed"),
    "50002": ErrorResolution(ResponseAction.FAIL, ValidationError, "Douyin: business processing failed"),
    "60000": ErrorResolution(ResponseAction.RATE_LIMITED, RateLimited, "Douyin flow limit reached"),
    "70000": ErrorResolution(ResponseAction.FAIL, PermanentError, "Douyin API offline"),
}

ERRORS = ErrorTable.default().extend({**_CODE_ROWS, **_SUB_ROWS})


def lookup_key(code: int, sub_code: str | None) -> str:
    """The table key for an answer: its sub_code when we know it, else its numeric code."""
    if sub_code and sub_code in _SUB_ROWS:
        return sub_code
    return str(code)


def envelope(code: DyCode | None, data: object = None, *, log_id: str, legacy: bool = True) -> dict[str, object]:
    """A Douyin answer; ``code=None`` is success. ``legacy`` adds ``err_no``/``message``."""
    if code is None:
        body: dict[str, object] = {
            "code": SUCCESS,
            "msg": "success",
            "sub_code": "",
            "sub_msg": "",
            "data": data if data is not None else {},
        }
        legacy_fields = {"err_no": 0, "message": "success"}
    else:
        body = {
            "code": code.code,
            "msg": code.msg,
            "sub_code": code.sub_code,
            "sub_msg": code.sub_msg,
            "data": data if data is not None else {},
        }
        legacy_fields = {"err_no": code.code, "message": code.sub_msg or code.msg}
    body["log_id"] = log_id
    if legacy:
        body.update(legacy_fields)
    return body
