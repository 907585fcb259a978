"""ErrorSpec: where the platform puts its error code, and what each code means (transient or not).

::

    errors:
      code: "$.error.code"          # a body code here means failure (unless in success_codes)
      message: "$.error.msg"
      success_codes: [0]
      codes:                        # platform body codes
        700: {action: retry, message: 系统错误}
        703: {action: auth, message: 签名验证错误}
        711: {action: rate_limited, message: 超过调用频次}
        803: {action: not_found, message: 门店不存在}
      statuses:                     # HTTP statuses, over the defaults (429 rate_limited, 5xx retry, 401 auth ...)
        409: conflict

Actions: ``retry`` (transient), ``rate_limited``, ``fail`` (permanent), ``auth``, ``token_expired``,
``not_found``, ``invalid``, ``conflict``. Codes become ``str`` keys and statuses ``int`` keys of a
``connectors.base.ErrorTable``, so the two never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import (
    AuthError,
    ConflictError,
    ConnectorError,
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

from ._reader import Reader
from .selector import Selector

__all__ = ["ACTIONS", "ErrorSpec"]

ACTIONS: dict[str, tuple[ResponseAction, type[ConnectorError]]] = {
    "retry": (ResponseAction.RETRY, TransientError),
    "rate_limited": (ResponseAction.RATE_LIMITED, RateLimited),
    "fail": (ResponseAction.FAIL, PermanentError),
    "auth": (ResponseAction.FAIL, AuthError),
    "token_expired": (ResponseAction.REFRESH_TOKEN_THEN_RETRY, TokenExpired),
    "not_found": (ResponseAction.FAIL, NotFound),
    "invalid": (ResponseAction.FAIL, ValidationError),
    "conflict": (ResponseAction.FAIL, ConflictError),
}


@dataclass(frozen=True)
class ErrorSpec:
    """The error envelope and the code table of one channel."""

    code: Selector | None
    message: Selector | None
    success_codes: frozenset[str]
    table: ErrorTable

    @classmethod
    def read(cls, r: Reader | None) -> ErrorSpec:
        if r is None:
            return cls(None, None, frozenset(), ErrorTable.default())
        rows: dict[int | str, ErrorResolution] = {}
        for section, as_key in (("codes", str), ("statuses", int)):
            table = r.child(section, required=False)
            if table is None:
                continue
            for raw_key in list(table.data):
                where = f"{section}.{raw_key}"
                value = table.data[raw_key]
                table._read.add(raw_key)
                if isinstance(value, str):
                    value = {"action": value}
                row = Reader(value, file=r.file, key=r.where(where))
                action = row.choice("action", tuple(ACTIONS))
                message = row.get("message", str, "")
                row.done()
                if section == "statuses" and not str(raw_key).isdigit():
                    raise r.error(where, "HTTP statuses must be numbers")
                response_action, error = ACTIONS[action]
                rows[as_key(raw_key)] = ErrorResolution(response_action, error, message)
            table.done()
        code = r.get("code", str, None)
        message = r.get("message", str, None)
        spec = cls(
            code=Selector.compile(code, file=r.file, key=r.where("code")) if code else None,
            message=Selector.compile(message, file=r.file, key=r.where("message")) if message else None,
            success_codes=frozenset(str(c) for c in r.get("success_codes", list, [])),
            table=ErrorTable.default().extend(rows),
        )
        r.done()
        return spec

    def body_error(self, body: Any) -> tuple[str, str] | None:
        """``(code, message)`` when the parsed answer carries an error code, else None."""
        if self.code is None:
            return None
        code = self.code.first(body)
        if code is None or code == "" or str(code) in self.success_codes:
            return None
        message = self.message.first(body, "") if self.message else ""
        return str(code), str(message)
