"""TOP (Taobao Open Platform) request signing and timestamps.

Pure functions, no I/O, so the connector's client and the sandbox share one
definition of "what TOP signs" and the tests can check it against vectors
computed independently from the documented algorithm:

1. all request parameters (system + business, query string and form body),
   minus ``sign`` itself; parameters with an empty key or value are skipped
   (the official Java SDK's ``TaobaoUtils.signTopRequest``);
2. sorted by key in plain code-point order;
3. concatenated ``key1value1key2value2...`` (no ``=`` or ``&``), UTF-8;
4. ``md5``: MD5(secret + concat + secret); ``hmac``: HMAC-MD5(secret, concat);
   ``hmac-sha256``: HMAC-SHA256(secret, concat);
5. hex digest in UPPER case.

Timestamps: the Java SDK sends ``yyyy-MM-dd HH:mm:ss`` in GMT+8, the official
Python SDK (``top.api.base``) sends epoch milliseconds; the gateway accepts
both and refuses anything more than 10 minutes away from its clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone

SIGN_METHODS: tuple[str, ...] = ("md5", "hmac", "hmac-sha256")
GMT8 = timezone(timedelta(hours=8), "GMT+8")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
TIMESTAMP_WINDOW = timedelta(minutes=10)


class UnknownSignMethod(ValueError):
    """Raised for a ``sign_method`` TOP does not define."""


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def canonical_string(params: Mapping[str, object], *, skip_empty: bool = True) -> str:
    """The ``k1v1k2v2`` string TOP signs (``sign`` excluded, sorted keys).

    ``skip_empty=False`` reproduces the official Python SDK, which does not drop
    empty-string values (it only drops ``None``); the Java SDK drops them.
    """
    parts: list[str] = []
    for key in sorted(params):
        if key == "sign" or not key:
            continue
        value = params[key]
        if value is None:
            continue
        text = _text(value)
        if skip_empty and text == "":
            continue
        parts.append(f"{key}{text}")
    return "".join(parts)


def sign_string(concat: str, secret: str, sign_method: str) -> str:
    """Sign an already-canonical string; upper-case hex."""
    key = secret.encode("utf-8")
    data = concat.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + data + key).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, data, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).hexdigest().upper()
    raise UnknownSignMethod(f"unknown TOP sign_method {sign_method!r}; expected one of {SIGN_METHODS}")


def sign_params(
    params: Mapping[str, object],
    secret: str,
    sign_method: str | None = None,
    *,
    body: str | None = None,
    skip_empty: bool = True,
) -> str:
    """TOP signature of ``params``; ``sign_method`` defaults to ``params['sign_method']`` or md5.

    ``body`` is appended after the parameters for raw-body (Qimen / JSON) calls.
    """
    method = sign_method or _text(params.get("sign_method") or "md5")
    concat = canonical_string(params, skip_empty=skip_empty)
    if body:
        concat += body
    return sign_string(concat, secret, method)


def verify_sign(params: Mapping[str, object], secret: str, *, body: str | None = None) -> bool:
    """True if ``params['sign']`` is a valid TOP signature (constant-time compare).

    Accepts the Java SDK form (empty values skipped) and the Python SDK form
    (empty values kept); for requests without empty values the two coincide.
    Lower-case hex is refused: TOP documents upper case, and a strict sandbox
    catches a client that forgot to upper-case before the real gateway does.
    """
    given = _text(params.get("sign") or "")
    if not given:
        return False
    method = _text(params.get("sign_method") or "md5")
    if method not in SIGN_METHODS:
        return False
    ok = False
    for skip in (True, False):
        expected = sign_params(params, secret, method, body=body, skip_empty=skip)
        ok |= hmac.compare_digest(expected, given)
    return ok


def format_timestamp(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8, as the Java SDK and TOP's own fields use."""
    if moment.tzinfo is None:
        raise ValueError("format_timestamp needs a timezone-aware datetime")
    return moment.astimezone(GMT8).strftime(TIMESTAMP_FORMAT)


def millis_timestamp(moment: datetime) -> str:
    """Epoch milliseconds as a decimal string, as the official Python SDK sends."""
    if moment.tzinfo is None:
        raise ValueError("millis_timestamp needs a timezone-aware datetime")
    return str(int(moment.timestamp() * 1000))


def parse_timestamp(value: str) -> datetime:
    """Parse either TOP timestamp form into an aware UTC datetime.

    Raises ValueError naming the problem for anything else.
    """
    text = (value or "").strip()
    if text.isdigit():
        if len(text) < 12:  # seconds would be 10 digits: TOP wants millis
            raise ValueError(f"timestamp {value!r}: epoch value must be milliseconds")
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        naive = datetime.strptime(text, TIMESTAMP_FORMAT)
    except ValueError:
        raise ValueError(
            f"timestamp {value!r} is neither 'yyyy-MM-dd HH:mm:ss' (GMT+8) nor epoch milliseconds"
        ) from None
    return naive.replace(tzinfo=GMT8).astimezone(UTC)


def timestamp_in_window(value: str, now: datetime, window: timedelta = TIMESTAMP_WINDOW) -> bool:
    """True if ``value`` parses and lies within ±window of ``now``."""
    try:
        moment = parse_timestamp(value)
    except ValueError:
        return False
    return abs(moment - now) <= window
