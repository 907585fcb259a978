"""Qimen (奇门) request signing: the TOP algorithm extended over the raw body.

Qimen puts every protocol parameter in the query string and the business payload in the raw body,
and signs both: ``UPPER_HEX(MD5(secret + k1v1k2v2... + body + secret))`` with the keys sorted in
plain ASCII order, ``sign`` itself and empty values left out (``TaobaoUtils.signTopRequestWithBody``
in the official SDK; the WMS-side ``SpiUtils.checkSign`` documents the same rule). The ``hmac`` and
``hmac-sha256`` methods of TOP apply too; they key the HMAC with the secret and do not wrap it.

Pure functions, no I/O, so the client, the verifier and the sandbox share one implementation.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
API_VERSION = "2.0"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
CHINA_TZ = timezone(timedelta(hours=8), "GMT+8")
# TOP and Qimen gateways allow a client clock error of 10 minutes.
DEFAULT_TIMESTAMP_WINDOW = timedelta(minutes=10)


class SignatureError(ValueError):
    """The request's signature parameters are missing, malformed or of an unknown method."""


def canonical_string(params: Mapping[str, str], body: str | bytes = b"") -> bytes:
    """``k1v1k2v2...`` over the sorted, non-empty params (``sign`` excluded), then the body."""
    parts = [f"{key}{value}" for key, value in sorted(params.items()) if key != "sign" and key and value]
    raw_body = body.encode("utf-8") if isinstance(body, str) else body
    return "".join(parts).encode("utf-8") + raw_body


def sign(params: Mapping[str, str], body: str | bytes, secret: str, sign_method: str = "md5") -> str:
    """Return the upper-hex Qimen signature of ``params`` (query string) plus ``body``."""
    message = canonical_string(params, body)
    key = secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + message + key).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, message, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, message, hashlib.sha256).hexdigest().upper()
    raise SignatureError(f"unknown sign_method {sign_method!r}; expected one of {', '.join(SIGN_METHODS)}")


def signatures_match(expected: str, given: str) -> bool:
    """Constant-time, case-insensitive comparison (SDKs differ in the hex case they send)."""
    return hmac.compare_digest(expected.upper().encode(), (given or "").upper().encode())


def format_timestamp(moment: datetime) -> str:
    """Qimen timestamps are ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(CHINA_TZ).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(value: str) -> datetime:
    """Parse a Qimen timestamp (GMT+8 wall clock) into an aware datetime."""
    try:
        return datetime.strptime(value.strip(), TIMESTAMP_FORMAT).replace(tzinfo=CHINA_TZ)
    except (ValueError, AttributeError) as exc:
        raise SignatureError(f"timestamp {value!r} is not 'yyyy-MM-dd HH:mm:ss'") from exc


def system_params(
    *,
    method: str,
    app_key: str,
    customer_id: str,
    now: datetime,
    fmt: str = "xml",
    sign_method: str = "md5",
) -> dict[str, str]:
    """The query-string protocol parameters of one Qimen call, without ``sign``."""
    return {
        "method": method,
        "app_key": app_key,
        "customerId": customer_id,
        "format": fmt,
        "sign_method": sign_method,
        "timestamp": format_timestamp(now),
        "v": API_VERSION,
    }


def signed_params(params: Mapping[str, str], body: str | bytes, secret: str) -> dict[str, str]:
    """``params`` plus their ``sign`` (computed with the ``sign_method`` they name)."""
    out = dict(params)
    out["sign"] = sign(out, body, secret, out.get("sign_method", "md5"))
    return out
