"""Shared helpers for checking inbound webhook signatures.

Connector verifiers (Shopify base64 HMAC-SHA256, Taobao/Qimen upper-case MD5 hex, Standard
Webhooks senders, …) build the platform's string-to-sign themselves and use these helpers for the
parts that are easy to get subtly wrong: comparing in constant time, hex case, base64, trying every
secret of a rotation, and a timestamp window that refuses both stale and future-dated messages.

Checks return a ``Verification`` (``ok`` + a ``reason`` a log line or a 401 body can carry); call
``.raise_for_failure()`` where an exception reads better.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from webhooks.outbound.signing import InvalidSecret, signature
from webhooks.rotation import RotatingSecret, SecretLike, active_secrets

__all__ = [
    "Algorithm",
    "DEFAULT_TOLERANCE",
    "Encoding",
    "RotatingSecret",
    "SignatureInvalid",
    "Verification",
    "check_timestamp",
    "constant_time_equals",
    "digest_hex",
    "hmac_base64",
    "hmac_digest",
    "hmac_hex",
    "verify_hmac",
    "verify_standard_webhook",
]

Algorithm = Literal["sha256", "sha1", "md5"]
Encoding = Literal["hex", "hex_upper", "hex_lower", "base64"]
DEFAULT_TOLERANCE = timedelta(minutes=5)


class SignatureInvalid(Exception):
    """An inbound message failed verification; ``reason`` says which check."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    reason: str
    secret_index: int | None = None  # which active secret matched (0 = newest)

    def __bool__(self) -> bool:
        return self.ok

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise SignatureInvalid(self.reason)


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare two signatures without leaking, through timing, how many leading bytes matched."""
    return hmac.compare_digest(_bytes(a), _bytes(b))


def hmac_digest(secret: str | bytes, message: bytes, algorithm: Algorithm = "sha256") -> bytes:
    return hmac.new(_bytes(secret), message, getattr(hashlib, algorithm)).digest()


def hmac_hex(secret: str | bytes, message: bytes, algorithm: Algorithm = "sha256", *, upper: bool = False) -> str:
    hexed = hmac_digest(secret, message, algorithm).hex()
    return hexed.upper() if upper else hexed


def hmac_base64(secret: str | bytes, message: bytes, algorithm: Algorithm = "sha256") -> str:
    return base64.b64encode(hmac_digest(secret, message, algorithm)).decode("ascii")


def digest_hex(message: bytes, algorithm: Algorithm = "md5", *, upper: bool = True) -> str:
    """Plain (keyed-by-concatenation) digest, for platforms like Taobao that sign md5(secret+params+secret)."""
    hexed = hashlib.new(algorithm, message).hexdigest()
    return hexed.upper() if upper else hexed


def _encode(digest: bytes, encoding: Encoding) -> str:
    if encoding == "base64":
        return base64.b64encode(digest).decode("ascii")
    if encoding == "hex_upper":
        return digest.hex().upper()
    return digest.hex()


def verify_hmac(
    provided: str | None,
    message: bytes,
    secrets: Iterable[SecretLike],
    *,
    algorithm: Algorithm = "sha256",
    encoding: Encoding = "hex",
    now: datetime | None = None,
) -> Verification:
    """Check ``provided`` against HMAC(secret, message) for every active secret of a rotation.

    ``encoding="hex"`` accepts either case (platforms differ); ``hex_upper``/``hex_lower`` insist on
    one; ``base64`` is exact. ``message`` must be the raw bytes as received, before any parsing.
    """
    if not provided:
        return Verification(False, "signature missing")
    candidate = provided.strip()
    if encoding == "hex":
        candidate = candidate.lower()
    keys = active_secrets(secrets, now)
    if not keys:
        return Verification(False, "no active secret to verify with")
    matched: int | None = None
    for index, key in enumerate(keys):  # try every key, so timing does not reveal which one matched
        expected = _encode(hmac_digest(key, message, algorithm), encoding)
        if constant_time_equals(expected, candidate) and matched is None:
            matched = index
    if matched is None:
        return Verification(False, f"signature does not match any of {len(keys)} active secret(s)")
    return Verification(True, "signature valid", matched)


def _as_datetime(timestamp: int | float | str | datetime, unit: Literal["s", "ms"]) -> datetime:
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError("timestamp datetime must be timezone-aware")
        return timestamp
    seconds = float(timestamp)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"timestamp is not a finite number: {timestamp!r}")
    return datetime.fromtimestamp(seconds / 1000 if unit == "ms" else seconds, UTC)


def check_timestamp(
    timestamp: int | float | str | datetime | None,
    now: datetime | None = None,
    *,
    max_age: timedelta = DEFAULT_TOLERANCE,
    max_future: timedelta | None = None,
    unit: Literal["s", "ms"] = "s",
) -> Verification:
    """Refuse a message stamped more than ``max_age`` ago or more than ``max_future`` ahead.

    ``max_future`` defaults to ``max_age`` (±5 min, as Standard Webhooks). Numbers and numeric
    strings are Unix time in ``unit``; datetimes must carry a time zone.
    """
    if timestamp is None or timestamp == "":
        return Verification(False, "timestamp missing")
    try:
        stamped = _as_datetime(timestamp, unit)
    except (ValueError, OverflowError, OSError) as exc:
        return Verification(False, f"timestamp unreadable: {exc}")
    moment = now or datetime.now(UTC)
    ahead = max_age if max_future is None else max_future
    if stamped < moment - max_age:
        return Verification(False, f"timestamp too old: {(moment - stamped).total_seconds():.0f}s > {max_age}")
    if stamped > moment + ahead:
        return Verification(False, f"timestamp too new: {(stamped - moment).total_seconds():.0f}s ahead > {ahead}")
    return Verification(True, "timestamp within window")


def verify_standard_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[SecretLike],
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> Verification:
    """Verify a Standard Webhooks message (``webhook-id``/``-timestamp``/``-signature``) with rotation."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, sig_header = (lower.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and stamp and sig_header):
        return Verification(False, "missing webhook-id, webhook-timestamp or webhook-signature header")
    if not stamp.isdigit():
        return Verification(False, f"webhook-timestamp is not integer seconds: {stamp!r}")
    window = check_timestamp(int(stamp), now, max_age=tolerance)
    if not window:
        return window
    provided = [entry.removeprefix("v1,") for entry in sig_header.split() if entry.startswith("v1,")]
    if not provided:
        return Verification(False, "no v1 signature in webhook-signature")
    keys = active_secrets(secrets, now)
    matched: int | None = None
    for index, key in enumerate(keys):
        try:
            expected = signature(key, msg_id, int(stamp), body).removeprefix("v1,")
        except InvalidSecret as exc:
            return Verification(False, f"configured secret #{index} is invalid: {exc}")
        if any(constant_time_equals(expected, p) for p in provided) and matched is None:
            matched = index
    if matched is None:
        return Verification(False, f"no signature matches any of {len(keys)} active secret(s)")
    return Verification(True, "signature valid", matched)
