"""Verify a WMS→ERP Qimen call (deliveryorder.confirm, stockchange.report, ...) as the gateway signs it.

Qimen signs the query string AND the raw body: ``UPPER_HEX(MD5(secret + sorted k+v of every
parameter but sign + body + secret))``; header parameters named in ``top-sign-list`` are signed
too (``SpiUtils.checkSign``). The receiver checks ``app_key``, the signature (constant time, over
the raw bytes, before parsing), the ``timestamp`` within ±10 minutes (``SpiUtils.checkTimestamp``)
and, when configured, ``customerId``. Because the signature covers the query string, the hub must
hand the request's query parameters to ``verify_push(..., query=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.base import PushAck, PushedEvent, VerificationError, check_freshness, lower_headers

from . import codec
from .messages import INBOUND_METHODS, MessageError, event_id, short_method
from .signing import (
    DEFAULT_TIMESTAMP_WINDOW,
    SIGN_METHODS,
    SignatureError,
    parse_timestamp,
    sign,
    signatures_match,
)

__all__ = ["ack", "refusal", "verify_call"]


def _signed_params(query: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, str]:
    params = {str(k): str(v) for k, v in query.items()}
    h = lower_headers(headers)
    for name in filter(None, (n.strip() for n in h.get("top-sign-list", "").split(","))):
        if name.lower() in h:
            params[name] = h[name.lower()]
    return params


def verify_call(
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    app_key: str,
    secret: str,
    now: float,
    customer_id: str | None = None,
    window: float = DEFAULT_TIMESTAMP_WINDOW.total_seconds(),
) -> PushedEvent:
    """Return the parsed event, or raise ``VerificationError`` (401 for auth/stale, 400 malformed)."""
    params = _signed_params(query, headers)
    for required in ("method", "app_key", "timestamp", "sign"):
        if not params.get(required):
            raise VerificationError(401 if required in ("sign", "app_key") else 400,
                                    f"Qimen parameter {required!r} is missing from the query string")
    if not signatures_match(params["app_key"], app_key):
        raise VerificationError(401, f"app_key {params['app_key']!r} is not this instance's")
    sign_method = params.get("sign_method", "md5")
    if sign_method not in SIGN_METHODS:
        raise VerificationError(401, f"sign_method {sign_method!r} is not one of {', '.join(SIGN_METHODS)}")
    if not signatures_match(sign(params, body, secret, sign_method), params["sign"]):
        raise VerificationError(401, "sign does not match the query parameters and body")
    try:
        stamp = parse_timestamp(params["timestamp"])
    except SignatureError as exc:
        raise VerificationError(400, str(exc)) from None
    check_freshness(stamp.timestamp(), now=now, window=window, what="Qimen timestamp")
    if customer_id and params.get("customerId") != customer_id:
        raise VerificationError(401, f"customerId {params.get('customerId')!r} is not {customer_id!r}")
    method = short_method(params["method"])
    if method not in INBOUND_METHODS:
        raise VerificationError(400, f"method {params['method']!r} is not one the ERP side receives "
                                     f"({', '.join(INBOUND_METHODS)})")
    fmt = params.get("format", "xml")
    try:
        document = codec.decode(body, fmt, "request")
        key = event_id(method, document)
    except (codec.BodyError, MessageError) as exc:
        raise VerificationError(400, f"{method} body: {exc}") from None
    return PushedEvent(
        event_id=key,
        topic=method,
        payload=document,
        occurred_at=_occurred_at(method, document) or stamp,
        source=params.get("customerId", ""),
        headers={"format": fmt, "method": method, "timestamp": params["timestamp"]},
    )


def _occurred_at(method: str, document: Mapping[str, object]) -> datetime | None:
    head_key = {"deliveryorder.confirm": "deliveryOrder", "entryorder.confirm": "entryOrder",
                "returnorder.confirm": "returnOrder", "orderprocess.report": "process"}.get(method)
    head = document.get(head_key) if head_key else None
    if method == "stockchange.report":
        items = document.get("items") or []
        head = items[0] if isinstance(items, list) and items else None
    if not isinstance(head, Mapping):
        return None
    for key in ("operateTime", "orderConfirmTime", "changeTime"):
        value = head.get(key)
        if value:
            try:
                return parse_timestamp(str(value))
            except SignatureError:
                return None
    return None


def ack(fmt: str = "xml") -> PushAck:
    """Qimen's success answer, in the format of the call it answers."""
    fmt = fmt if fmt in ("xml", "json") else "xml"
    body = codec.encode(codec.success("success"), fmt, "response").encode("utf-8")
    return PushAck(200, body, codec.CONTENT_TYPES[fmt])


def refusal(error: VerificationError, fmt: str = "xml") -> PushAck:
    """Qimen's failure envelope, carrying the refusal's HTTP status (the WMS retries non-success)."""
    code = "sign-check-failure" if error.status_code == 401 else "invalid-request"
    body = codec.encode(codec.failure(code, error.reason), fmt, "response").encode("utf-8")
    return PushAck(error.status_code, body, codec.CONTENT_TYPES.get(fmt, codec.CONTENT_TYPES["xml"]))
