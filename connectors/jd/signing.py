"""JD JOS (宙斯) request signing — pure functions, no I/O.

JD signs every call over ALL request parameters (system ones and the single business field
``360buy_param_json``), sorted by key, as ``key+value`` pairs concatenated with no separator:

    md5          UPPER_HEX(MD5(secret + concat + secret))      (default; what the PyPI ``jd-sdk`` sends)
    hmacsha256   UPPER_HEX(HMAC_SHA256(secret, concat))        (newer Java SDK, ``sign_method=hmacsha256``)
    hmacmd5      UPPER_HEX(HMAC_MD5(secret, concat))

The Java SDK skips empty values; the PyPI ``jd-sdk`` never sends any, so skipping is safe for both.
Timestamps are GMT+8 wall-clock strings ``yyyy-MM-dd HH:mm:ss``; the PyPI SDK sends
``yyyy-MM-dd HH:mm:ss.000+zzzz`` in the caller's local zone, which :func:`parse_timestamp` also reads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

GMT8 = timezone(timedelta(hours=8))
PARAM_JSON_KEY = "360buy_param_json"
SIGN_METHODS = ("md5", "hmacsha256", "hmacmd5")

_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(?:([+-])(\d{2}):?(\d{2}))?$")


def sign_base(params: Mapping[str, Any]) -> str:
    """The concatenation JD signs: sorted ``key+value`` over every non-empty param except ``sign``."""
    parts = []
    for key in sorted(params):
        value = params[key]
        if key == "sign" or value is None or value == "":
            continue
        parts.append(f"{key}{value}")
    return "".join(parts)


def sign(secret: str, params: Mapping[str, Any], sign_method: str = "md5") -> str:
    """Return JD's upper-case hex signature of ``params`` (``sign_method`` excluded from nothing)."""
    base = sign_base(params)
    if sign_method == "md5":
        return hashlib.md5(f"{secret}{base}{secret}".encode()).hexdigest().upper()
    if sign_method == "hmacsha256":
        return hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest().upper()
    if sign_method == "hmacmd5":
        return hmac.new(secret.encode(), base.encode(), hashlib.md5).hexdigest().upper()
    raise ValueError(f"unknown JD sign_method {sign_method!r}; expected one of {SIGN_METHODS}")


def param_json(business: Mapping[str, Any]) -> str:
    """Serialise business params the way the Java SDK does (TreeMap ⇒ sorted keys), compact."""
    return json.dumps(business, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def format_timestamp(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8, the form JD documents (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(GMT8).strftime("%Y-%m-%d %H:%M:%S")


def parse_timestamp(text: str) -> datetime:
    """Parse a JD timestamp; no offset means GMT+8. Raises ValueError naming the bad text."""
    match = _TS_RE.match(text.strip())
    if not match:
        raise ValueError(f"JD timestamp {text!r} is not 'yyyy-MM-dd HH:mm:ss'")
    y, mo, d, h, mi, s, _ms, sgn, oh, om = match.groups()
    tz = GMT8
    if sgn:
        delta = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(delta if sgn == "+" else -delta)
    return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tz)


def signed_params(
    *,
    app_key: str,
    app_secret: str,
    method: str,
    business: Mapping[str, Any],
    access_token: str | None,
    timestamp: str,
    sign_method: str = "md5",
    version: str = "2.0",
) -> dict[str, str]:
    """Build the full, signed parameter set for one JD call."""
    params: dict[str, str] = {
        "method": method,
        "app_key": app_key,
        "timestamp": timestamp,
        "v": version,
        "format": "json",
        PARAM_JSON_KEY: param_json(business),
    }
    if access_token:
        params["access_token"] = access_token
    if sign_method != "md5":
        params["sign_method"] = sign_method
    params["sign"] = sign(app_secret, params, sign_method)
    return params


def response_root(method: str) -> str:
    """Root key of a JD success envelope, with JD's own misspelling: ``a.b.c`` → ``a_b_c_responce``."""
    return method.replace(".", "_") + "_responce"
