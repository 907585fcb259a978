"""Kingdee K/3 Cloud WebAPI signatures, exactly as the official SDK computes them.

Checked against `kingdee-cdp-webapi-sdk` 8.2.0 (`k3cloud_webapi_sdk/core/webapi_client.py`
`BuildHeader`, `util/encode_util.py`, `util/hmac_util.py`) and the test vector in
research/platforms.md §5.3. Two schemes:

* "第三方系统登录授权" signed headers, sent on EVERY request by the SDK (no login call):
  X-Api-Signature = base64(hex(HMAC-SHA256(client_sec, "POST\\n{path}\\n\\nx-api-nonce:{n}\\nx-api-timestamp:{t}\\n")))
  where client_sec is derived from the AppID itself, and
  X-Kd-Signature = base64(hex(HMAC-SHA256(AppSecret, AppID + "acct,user,lcid,org"))).
* LoginBySign: sign = hex(SHA256(concat(sorted([acctId, username, appId, appSecret, timestamp])))).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, urlsplit

# ROT13("0054s397p6234378o09pn7q3r5qropr7"): the SDK's default XOR key (`x-kdapi-secpwd` overrides it).
DEFAULT_XOR_KEY = "0054f397c6234378b09ca7d3e5debce7"


def _hex_b64(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def split_app_id(app_id: str) -> tuple[str, str]:
    """AppID `"<clientId>_<32-char base64>"` → (client_id, client_sec); ("", "") when malformed (as the SDK)."""
    parts = app_id.split("_")
    if len(parts) != 2 or len(parts[1]) != 32:
        return (parts[0] if len(parts) == 2 else "", "")
    try:
        raw = base64.b64decode(parts[1], validate=True)
    except ValueError:
        return parts[0], ""
    key = DEFAULT_XOR_KEY.encode()
    return parts[0], base64.b64encode(bytes(b ^ key[i] for i, b in enumerate(raw))).decode()


def signed_path(url: str) -> str:
    """The path part the SDK signs: everything after the host, URL-quoted, '/' → '%2F'."""
    path = url
    if url.startswith("http"):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    return quote(path, encoding="utf-8").replace("/", "%2F")


def api_signature(path: str, timestamp: str, nonce: str, client_sec: str) -> str:
    """X-Api-Signature for an already-`signed_path`-encoded path."""
    return _hex_b64(client_sec, f"POST\n{path}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n")


def app_data(acct_id: str, username: str, lcid: int | str, org_num: int | str) -> str:
    return f"{acct_id},{username},{lcid},{org_num}"


def kd_signature(app_id: str, app_secret: str, data: str) -> str:
    """X-Kd-Signature: proves the caller knows the AppSecret for this AppID and identity."""
    return _hex_b64(app_secret, app_id + data)


def signed_headers(
    url: str,
    *,
    app_id: str,
    app_secret: str,
    acct_id: str,
    username: str,
    lcid: int = 2052,
    org_num: int | str = 0,
    timestamp: int,
) -> dict[str, str]:
    """All headers the official SDK sends with a request to `url` at unix second `timestamp`."""
    client_id, client_sec = split_app_id(app_id)
    ts = str(timestamp)
    data = app_data(acct_id, username, lcid, org_num)
    return {
        "X-Api-ClientID": client_id,
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": ts,
        "x-api-nonce": ts,
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": api_signature(signed_path(url), ts, ts, client_sec),
        "X-Kd-Appkey": app_id,
        "X-Kd-Appdata": base64.b64encode(data.encode()).decode(),
        "X-Kd-Signature": kd_signature(app_id, app_secret, data),
    }


def login_sign(acct_id: str, username: str, app_id: str, app_secret: str, timestamp: int | str) -> str:
    """LoginBySign `sign`: SHA256 hex of the five values sorted and concatenated."""
    values = sorted([acct_id, username, app_id, app_secret, str(timestamp)])
    return hashlib.sha256("".join(values).encode()).hexdigest()
