"""The connector error tree, classified by what the caller must do (STYLE 18-22).

::

    ConnectorError                 every error a connector raises; carries instance, code, status, detail
    ├── TransientError             try again later (timeouts, 5xx, platform "busy" codes)
    │   └── RateLimited            try again after ``retry_after`` seconds (429, THROTTLED, ban codes)
    ├── PermanentError             retrying cannot help: dead-letter it
    │   ├── AuthError              bad/revoked credentials or missing scope
    │   │   └── TokenExpired       refresh the access token, then retry
    │   ├── NotFound               the remote record (or our listing of it) does not exist
    │   ├── ValidationError        the platform refused the request's content
    │   ├── ConflictError          a compare-and-set saw a different current value
    │   └── NotSupported           the connector lacks the capability asked for
    └── VerificationError          an inbound push was refused (bad signature, stale, malformed)

Transient versus permanent is encoded in the type, so tenacity retries on ``TransientError`` alone
and the hub dead-letters ``PermanentError``. ``detail`` never holds secrets.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConflictError",
    "ConnectorError",
    "NotFound",
    "NotSupported",
    "PermanentError",
    "RateLimited",
    "TokenExpired",
    "TransientError",
    "ValidationError",
    "VerificationError",
]


class ConnectorError(Exception):
    """Base of every connector error.

    ``ConnectorError("stock write refused", instance="shopify-demo", code="COMPARE_QUANTITY_STALE",
    status=200, detail="expected 5, found 7")``
    """

    def __init__(
        self,
        message: str,
        *,
        instance: str | None = None,
        code: str | None = None,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.instance = instance
        self.code = code
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        parts = [self.message]
        if self.instance:
            parts.append(f"instance={self.instance}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.detail:
            parts.append(f"detail={self.detail}")
        return " ".join(parts)


class TransientError(ConnectorError):
    """Retry later: the same request may well succeed."""


class RateLimited(TransientError):
    """The platform throttled us; wait ``retry_after`` seconds (None: use the backoff)."""

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Retrying the same request cannot help; a person or a config change must."""


class AuthError(PermanentError):
    """Credentials are wrong, revoked or lack a scope."""


class TokenExpired(AuthError):
    """The access token expired: refresh it, then retry (``REFRESH_TOKEN_THEN_RETRY``)."""


class NotFound(PermanentError):
    """The remote record, or our listing for a SKU, does not exist."""


class ValidationError(PermanentError):
    """The platform refused the content of the request."""


class ConflictError(PermanentError):
    """A compare-and-set write found a different current value; re-read and recompute."""


class NotSupported(PermanentError):
    """The connector does not have the capability that was called."""


class VerificationError(ConnectorError):
    """An inbound push was refused: answer ``status_code`` and record it as refused, never process it.

    ``raise VerificationError(401, "X-Shopify-Hmac-Sha256 does not match the body")``
    """

    def __init__(self, status_code: int, reason: str, *, refused: bool = True, instance: str | None = None) -> None:
        super().__init__(reason, instance=instance, status=status_code)
        self.status_code = status_code
        self.reason = reason
        self.refused = refused
