"""Errors as data: a per-platform table from status code / platform code to an ``ErrorResolution``.

Modelled on airbyte's ``ResponseAction``/``ErrorResolution``. A platform connector extends the
default table with its own codes::

    TABLE = ErrorTable.default().extend({
        "THROTTLED": ErrorResolution(ResponseAction.RATE_LIMITED, RateLimited, "GraphQL cost throttled"),
        "isv.item-not-exist": ErrorResolution(ResponseAction.FAIL, NotFound, "item does not exist"),
    })
    raise TABLE.error_for(429, instance="shopify-demo", retry_after=2.0)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ._errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    RateLimited,
    TokenExpired,
    TransientError,
    ValidationError,
)

__all__ = ["ErrorResolution", "ErrorTable", "ResponseAction"]


class ResponseAction(enum.StrEnum):
    """What the client does with an answer."""

    SUCCESS = "success"
    RETRY = "retry"
    FAIL = "fail"
    IGNORE = "ignore"
    RATE_LIMITED = "rate_limited"
    REFRESH_TOKEN_THEN_RETRY = "refresh_token_then_retry"


@dataclass(frozen=True, slots=True)
class ErrorResolution:
    """One row of an error table: the action, the exception class to raise, a readable message."""

    action: ResponseAction
    error: type[ConnectorError] | None = None
    message: str = ""


_OK = ErrorResolution(ResponseAction.SUCCESS)

_DEFAULTS: dict[int | str, ErrorResolution] = {
    400: ErrorResolution(ResponseAction.FAIL, ValidationError, "bad request"),
    401: ErrorResolution(ResponseAction.FAIL, AuthError, "unauthorized"),
    402: ErrorResolution(ResponseAction.FAIL, PermanentError, "payment required (shop frozen)"),
    403: ErrorResolution(ResponseAction.FAIL, AuthError, "forbidden (missing scope?)"),
    404: ErrorResolution(ResponseAction.FAIL, NotFound, "not found"),
    406: ErrorResolution(ResponseAction.FAIL, ValidationError, "not acceptable"),
    408: ErrorResolution(ResponseAction.RETRY, TransientError, "request timeout"),
    409: ErrorResolution(ResponseAction.RETRY, TransientError, "conflict, retry"),
    422: ErrorResolution(ResponseAction.FAIL, ValidationError, "unprocessable entity"),
    423: ErrorResolution(ResponseAction.FAIL, PermanentError, "locked"),
    429: ErrorResolution(ResponseAction.RATE_LIMITED, RateLimited, "too many requests"),
    500: ErrorResolution(ResponseAction.RETRY, TransientError, "internal server error"),
    502: ErrorResolution(ResponseAction.RETRY, TransientError, "bad gateway"),
    503: ErrorResolution(ResponseAction.RETRY, TransientError, "service unavailable"),
    504: ErrorResolution(ResponseAction.RETRY, TransientError, "gateway timeout"),
}


@dataclass(frozen=True, slots=True)
class ErrorTable:
    """Maps an HTTP status (int) or platform error code (str) to an ``ErrorResolution``."""

    rows: Mapping[int | str, ErrorResolution]

    @classmethod
    def default(cls) -> ErrorTable:
        return cls(dict(_DEFAULTS))

    def extend(self, rows: Mapping[int | str, ErrorResolution]) -> ErrorTable:
        return ErrorTable({**self.rows, **rows})

    def resolve(self, key: int | str) -> ErrorResolution:
        """The row for ``key``; unknown 2xx/3xx succeed, unknown 5xx retry, anything else fails."""
        if key in self.rows:
            return self.rows[key]
        if isinstance(key, int):
            if key < 400:
                return _OK
            if key >= 500:
                return ErrorResolution(ResponseAction.RETRY, TransientError, f"server error {key}")
        return ErrorResolution(ResponseAction.FAIL, PermanentError, f"unclassified error {key}")

    def error_for(
        self,
        key: int | str,
        *,
        instance: str | None = None,
        status: int | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> ConnectorError:
        """Build (not raise) the exception the row prescribes."""
        row = self.resolve(key)
        cls = row.error or (TransientError if row.action is ResponseAction.RETRY else PermanentError)
        if row.action is ResponseAction.REFRESH_TOKEN_THEN_RETRY and not issubclass(cls, TokenExpired):
            cls = TokenExpired
        code = key if isinstance(key, str) else None
        status = status if status is not None else (key if isinstance(key, int) else None)
        message = row.message or f"error {key}"
        if issubclass(cls, RateLimited):
            return cls(message, retry_after=retry_after, instance=instance, code=code, status=status, detail=detail)
        return cls(message, instance=instance, code=code, status=status, detail=detail)
