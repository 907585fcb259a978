"""Shared signing helpers for inbound verification and outbound requests (pure, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from ._errors import VerificationError

__all__ = [
    "check_freshness",
    "constant_time_equals",
    "hmac_sha256_base64",
    "hmac_sha256_hex",
    "lower_headers",
    "md5_hex",
]


def _b(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def hmac_sha256_base64(secret: str | bytes, message: str | bytes) -> str:
    """``base64(HMAC-SHA256(secret, message))``, e.g. Shopify's ``X-Shopify-Hmac-Sha256``."""
    return base64.b64encode(hmac.new(_b(secret), _b(message), hashlib.sha256).digest()).decode()


def hmac_sha256_hex(secret: str | bytes, message: str | bytes, *, upper: bool = False) -> str:
    """Hex HMAC-SHA256 (lower case unless ``upper``), e.g. Shopify OAuth ``hmac``, Douyin ``sign``."""
    digest = hmac.new(_b(secret), _b(message), hashlib.sha256).hexdigest()
    return digest.upper() if upper else digest


def md5_hex(message: str | bytes, *, upper: bool = True) -> str:
    """Hex MD5 (upper case by default, as TOP/JD/Qimen sign)."""
    digest = hashlib.md5(_b(message)).hexdigest()
    return digest.upper() if upper else digest


def constant_time_equals(a: str | bytes | None, b: str | bytes | None) -> bool:
    """Compare two signatures in constant time; ``None`` never matches."""
    if a is None or b is None:
        return False
    return hmac.compare_digest(_b(a), _b(b))


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with lower-cased names, so lookups ignore the sender's casing."""
    return {k.lower(): v for k, v in headers.items()}


def check_freshness(occurred_at: float, *, now: float, window: float, what: str = "timestamp") -> None:
    """Refuse a push whose timestamp is more than ``window`` seconds from ``now`` (replay protection)."""
    if abs(now - occurred_at) > window:
        raise VerificationError(401, f"{what} is {now - occurred_at:.0f}s away from now; allowed ±{window:.0f}s")
