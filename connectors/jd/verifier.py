"""Checking a JD-signed request the way the JOS gateway does (used by the sandbox; pure).

JD cannot push, so there is no inbound webhook to verify; what needs verifying is a *request*
signed with JD's scheme: the app_key must be ours, the timestamp within ±10 minutes (GMT+8
unless an offset is given), and the md5/hmac signature must match every other parameter.
Replays inside the window are the caller's concern (see ``connectors.testing.gate.ReplayCache``).
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import constant_time_equals

from . import codes
from .signing import SIGN_METHODS, parse_timestamp, sign

TIMESTAMP_WINDOW = 600.0


class JdRequestRefused(Exception):
    """A request JD would refuse, with the JD code to answer it with."""

    def __init__(self, code: codes.JdCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def verify_request(
    params: Mapping[str, str],
    *,
    app_key: str,
    app_secret: str,
    now: float,
    window: float = TIMESTAMP_WINDOW,
) -> None:
    """Raise ``JdRequestRefused`` unless ``params`` is a fresh request signed with ``app_secret``."""
    if not params.get("app_key"):
        raise JdRequestRefused(codes.MISSING_PARAM, "app_key is missing")
    if params["app_key"] != app_key:
        raise JdRequestRefused(codes.INVALID_APP_KEY, f"app_key {params['app_key']!r} is not known")
    if not params.get("method"):
        raise JdRequestRefused(codes.MISSING_PARAM, "method is missing")
    raw_ts = params.get("timestamp")
    if not raw_ts:
        raise JdRequestRefused(codes.MISSING_PARAM, "timestamp is missing")
    try:
        sent_at = parse_timestamp(raw_ts).timestamp()
    except ValueError as exc:
        raise JdRequestRefused(codes.INVALID_TIMESTAMP, str(exc)) from exc
    if abs(now - sent_at) > window:
        raise JdRequestRefused(codes.INVALID_TIMESTAMP, f"timestamp {raw_ts!r} is {now - sent_at:.0f}s from now")
    given = params.get("sign")
    if not given:
        raise JdRequestRefused(codes.MISSING_PARAM, "sign is missing")
    method = params.get("sign_method") or "md5"
    if method not in SIGN_METHODS:
        raise JdRequestRefused(codes.INVALID_SIGNATURE, f"sign_method {method!r} is not supported")
    if not constant_time_equals(given.upper(), sign(app_secret, params, method)):
        raise JdRequestRefused(codes.INVALID_SIGNATURE, "sign does not match the parameters")
