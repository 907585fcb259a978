"""Douyin shop (抖店) open-platform signing — pure functions, no I/O.

API calls (official Go SDK ``utils/sign_util.go``; PyPI ``doudian`` ``DouDian._sign``):

    param_json = JSON of the business params, keys sorted at every level, no spaces, no HTML escaping
    pattern    = "app_key"+k + "method"+m + "param_json"+param_json + "timestamp"+t + "v"+"2"
    sign       = lower_hex(HMAC_SHA256(key=secret, msg=secret + pattern + secret))   sign_method=hmac-sha256
              or lower_hex(MD5(secret + pattern + secret))                           sign_method=md5 (legacy)

The body sent is the very ``param_json`` string that was signed.
Message push (消息推送): header ``event-sign`` = lower_hex(MD5(app_key + raw_body + secret)).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGN_METHODS = ("hmac-sha256", "md5")
API_VERSION = "2"


def canonical_json(value: Any) -> str:
    """Compact JSON with keys sorted recursively, UTF-8 kept (Go's json.Marshal of maps)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def method_for_path(path: str) -> str:
    """``/sku/syncStock`` → ``sku.syncStock`` (how Douyin names a method after its gateway path)."""
    return path.strip("/").replace("/", ".")


def path_for_method(method: str) -> str:
    """``sku.syncStock`` → ``/sku/syncStock``."""
    return "/" + method.replace(".", "/")


def sign_pattern(app_key: str, method: str, param_json: str, timestamp: str | int) -> str:
    """The string between the two secrets."""
    return f"app_key{app_key}method{method}param_json{param_json}timestamp{timestamp}v{API_VERSION}"


def sign(
    app_key: str,
    app_secret: str,
    method: str,
    param_json: str,
    timestamp: str | int,
    sign_method: str = "hmac-sha256",
) -> str:
    """Lower-case hex signature of one API call."""
    wrapped = f"{app_secret}{sign_pattern(app_key, method, param_json, timestamp)}{app_secret}".encode()
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode(), wrapped, hashlib.sha256).hexdigest()
    if sign_method == "md5":
        return hashlib.md5(wrapped).hexdigest()
    raise ValueError(f"unknown Douyin sign_method {sign_method!r}; expected one of {SIGN_METHODS}")


def push_sign(app_key: str, app_secret: str, body: bytes) -> str:
    """``event-sign`` of a message-push body: lower_hex(MD5(app_key + body + secret))."""
    return hashlib.md5(app_key.encode() + body + app_secret.encode()).hexdigest()
