"""The connector contract plugins import: ``from connectors.base import Connector, ...``."""

from __future__ import annotations

from ._capability import Capability
from ._client import BaseClient, RetryPolicy, translate_errors
from ._config import InstanceConfig
from ._connector import Connector
from ._cursor import PollCursor
from ._http import async_client
from ._errors import (
    AuthError,
    ConflictError,
    ConnectorError,
    NotFound,
    NotSupported,
    PermanentError,
    RateLimited,
    TokenExpired,
    TransientError,
    ValidationError,
    VerificationError,
)
from ._hmac import (
    check_freshness,
    constant_time_equals,
    hmac_sha256_base64,
    hmac_sha256_hex,
    lower_headers,
    md5_hex,
)
from ._model import Page, PushAck, PushedEvent, WriteResult
from ._ratelimit import TokenBucket
from ._resolution import ErrorResolution, ErrorTable, ResponseAction

__all__ = [
    "AuthError",
    "BaseClient",
    "Capability",
    "ConflictError",
    "Connector",
    "ConnectorError",
    "ErrorResolution",
    "ErrorTable",
    "InstanceConfig",
    "NotFound",
    "NotSupported",
    "Page",
    "PermanentError",
    "PollCursor",
    "PushAck",
    "PushedEvent",
    "RateLimited",
    "ResponseAction",
    "RetryPolicy",
    "TokenBucket",
    "TokenExpired",
    "TransientError",
    "ValidationError",
    "VerificationError",
    "WriteResult",
    "async_client",
    "check_freshness",
    "constant_time_equals",
    "hmac_sha256_base64",
    "hmac_sha256_hex",
    "lower_headers",
    "md5_hex",
    "translate_errors",
]
