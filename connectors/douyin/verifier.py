"""Verifying what Douyin sends us (message push) and what a Douyin gateway receives (API calls).

Push (消息推送): ``POST`` with headers ``app-id`` (our app_key) and ``event-sign`` =
lower_hex(MD5(app_key + raw_body + app_secret)); body a JSON array of ``{"tag", "msg_id", "data"}``
where ``data`` is itself a JSON string. Douyin retries until answered ``{"code":0,"msg":"success"}``,
so a message seen before is acknowledged but not processed again (dedupe by ``msg_id``). A push
carries no timestamp, so "stale" cannot be judged from it: replay protection is the msg_id memory.

API calls: the gateway checks app_key, a timestamp within the window (unix seconds, or
``yyyy-MM-dd HH:mm:ss`` read as GMT+8), and the hmac-sha256/md5 ``sign`` over the exact body.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.base import VerificationError, constant_time_equals, lower_headers

from . import codes
from .signing import SIGN_METHODS, push_sign, sign

GMT8 = timezone(timedelta(hours=8))
TIMESTAMP_WINDOW = 600.0
ACK_BODY = b'{"code":0,"msg":"success"}'
FAIL_BODY = b'{"code":1,"msg":"fail"}'


@dataclass(frozen=True, slots=True)
class PushMessage:
    tag: str
    msg_id: str
    data: dict[str, Any]
    raw_data: str


def parse_push(body: bytes) -> list[PushMessage]:
    """The messages of a push body; ``VerificationError(400)`` naming what is malformed."""
    try:
        items = json.loads(body)
    except ValueError:
        raise VerificationError(400, "push body is not JSON") from None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise VerificationError(400, "push body must be a non-empty JSON array of messages")
    messages = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("msg_id") or item.get("tag") in (None, ""):
            raise VerificationError(400, f"push message {n} lacks tag or msg_id")
        raw = item.get("data", "")
        try:
            data = json.loads(raw) if isinstance(raw, str) and raw else (raw or {})
        except ValueError:
            raise VerificationError(400, f"push message {item['msg_id']} data is not a JSON string") from None
        if not isinstance(data, dict):
            raise VerificationError(400, f"push message {item['msg_id']} data is not a JSON object")
        messages.append(
            PushMessage(str(item["tag"]), str(item["msg_id"]), data, raw if isinstance(raw, str) else json.dumps(raw))
        )
    return messages


def verify_push_signature(headers: Mapping[str, str], body: bytes, *, app_key: str, app_secret: str) -> None:
    """Refuse (401) a push not from our app or whose ``event-sign`` does not match the raw body."""
    h = lower_headers(headers)
    if h.get("app-id") != app_key:
        raise VerificationError(401, f"app-id {h.get('app-id')!r} is not our app_key")
    given = h.get("event-sign")
    if not given:
        raise VerificationError(401, "event-sign header is missing")
    if not constant_time_equals(given.lower(), push_sign(app_key, app_secret, body)):
        raise VerificationError(401, "event-sign does not match the body")


class MsgIdMemory:
    """msg_ids already accepted, bounded and aged: Douyin retries a push for hours at most."""

    def __init__(self, *, capacity: int = 100_000, ttl: float = 86400.0) -> None:
        self.capacity, self.ttl = capacity, ttl
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def seen(self, msg_id: str, now: float) -> bool:
        with self._lock:
            at = self._seen.get(msg_id)
            return at is not None and now - at <= self.ttl

    def remember(self, msg_ids: list[str], now: float) -> None:
        with self._lock:
            for msg_id in msg_ids:
                self._seen[msg_id] = now
                self._seen.move_to_end(msg_id)
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)


# -- API request verification (the sandbox gateway) -----------------------------------------------
class DyRequestRefused(Exception):
    def __init__(self, code: codes.DyCode, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def parse_timestamp(text: str) -> float:
    """Unix seconds from Douyin's ``timestamp``: digits, or ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8).timestamp()
    except ValueError:
        raise ValueError(f"timestamp {text!r} is neither unix seconds nor 'yyyy-MM-dd HH:mm:ss'") from None


def verify_api_request(
    query: Mapping[str, str],
    param_json: str,
    *,
    app_key: str,
    app_secret: str,
    method: str,
    now: float | None = None,
    window: float = TIMESTAMP_WINDOW,
) -> None:
    """Raise ``DyRequestRefused`` unless the call is ours, fresh and signed over ``param_json``."""
    now = time.time() if now is None else now
    if not query.get("app_key"):
        raise DyRequestRefused(codes.APP_KEY_MISSING, "app_key is missing")
    if query["app_key"] != app_key:
        raise DyRequestRefused(codes.APP_KEY_INVALID, f"app_key {query['app_key']!r} is not known")
    if query.get("method") and query["method"] != method:
        raise DyRequestRefused(codes.PARAM_FORMAT, f"method {query['method']!r} does not match path ({method})")
    raw_ts = query.get("timestamp", "")
    try:
        sent_at = parse_timestamp(raw_ts)
    except ValueError as exc:
        raise DyRequestRefused(codes.TIMESTAMP_FORMAT, str(exc)) from None
    if abs(now - sent_at) > window:
        raise DyRequestRefused(codes.TIMESTAMP_INVALID, f"timestamp {raw_ts!r} is {now - sent_at:.0f}s from now")
    given = query.get("sign")
    if not given:
        raise DyRequestRefused(codes.SIGNATURE_MISSING, "sign is missing")
    sign_method = query.get("sign_method") or "md5"
    if sign_method not in SIGN_METHODS:
        raise DyRequestRefused(codes.SIGNATURE_INVALID, f"sign_method {sign_method!r} is not supported")
    expected = sign(app_key, app_secret, method, param_json, raw_ts, sign_method)
    if not constant_time_equals(given.lower(), expected):
        raise DyRequestRefused(codes.SIGNATURE_INVALID, "sign does not match")
