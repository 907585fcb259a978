"""Verify a Kuaidi100 subscription push: form ``param`` (JSON string) + ``sign`` = MD5(param + salt).

The signature is checked over the exact ``param`` string received, before it is parsed. Kuaidi100
puts no send time in a push (only scan times), so there is no freshness window to check; a replay
changes nothing because the event id (tracking number + state + latest scan time) dedupes it.
The callback must answer ``{"result": true, "returnCode": "200", "message": "成功"}`` or it is
retried (3 times, ~35 min apart).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import parse_qsl

from connectors.base import PushAck, PushedEvent, VerificationError, lower_headers

from .signing import push_sign, signatures_match
from .tracking import TrackingError, parse_result

__all__ = ["ACK", "refusal", "verify_push"]

ACK = PushAck(200, json.dumps({"result": True, "returnCode": "200", "message": "成功"}, ensure_ascii=False).encode(),
              "application/json")
MAX_BODY = 2 * 1024 * 1024


def verify_push(headers: Mapping[str, str], body: bytes, *, salt: str) -> PushedEvent:
    """Return the event, or raise ``VerificationError`` (401 bad/missing sign, 400 malformed)."""
    if len(body) > MAX_BODY:
        raise VerificationError(413, f"push body of {len(body)} bytes is over {MAX_BODY}")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(400, "push body is not a UTF-8 form (param=...&sign=...)") from None
    param, given = form.get("param"), form.get("sign")
    if not given:
        raise VerificationError(401, "push has no 'sign' form field (subscribe with a salt)")
    if param is None:
        raise VerificationError(400, "push has no 'param' form field")
    if not signatures_match(push_sign(param, salt), given):
        raise VerificationError(401, "sign does not match MD5(param + salt)")
    try:
        payload = json.loads(param)
    except ValueError:
        raise VerificationError(400, "param is not JSON") from None
    if not isinstance(payload, dict):
        raise VerificationError(400, "param is not a JSON object")
    try:
        tracking = parse_result(payload.get("lastResult"))
    except TrackingError as exc:
        raise VerificationError(400, f"lastResult: {exc}") from None
    h = lower_headers(headers)
    return PushedEvent(
        event_id=tracking.event_id,
        topic=f"tracking/{tracking.state_name}",
        payload=payload,
        source=tracking.company,
        headers={k: v for k, v in h.items() if k in ("content-type", "user-agent")},
    )


def refusal(error: VerificationError) -> PushAck:
    body = {"result": False, "returnCode": str(error.status_code), "message": error.reason}
    return PushAck(error.status_code, json.dumps(body, ensure_ascii=False).encode(), "application/json")
