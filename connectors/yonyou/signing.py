"""YonBIP self-built app (自建应用) token signature.

signature = URLEncode(Base64(HmacSHA256(key=appSecret, msg = every query parameter except
`signature`, sorted by name, name+value concatenated))) — for the token call that is
"appKey{appKey}timestamp{timestamp}", timestamp in epoch MILLISECONDS. Base64 of the raw digest
(not hex). research/platforms.md §6.1; test vector reproduced in tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote


def string_to_sign(params: Mapping[str, str]) -> str:
    return "".join(f"{k}{params[k]}" for k in sorted(params) if k != "signature")


def token_signature_raw(app_key: str, app_secret: str, timestamp_ms: int | str) -> str:
    """Base64 signature before URL-encoding (what to pass as a query value to an HTTP library)."""
    msg = string_to_sign({"appKey": app_key, "timestamp": str(timestamp_ms)})
    return base64.b64encode(hmac.new(app_secret.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def token_signature(app_key: str, app_secret: str, timestamp_ms: int | str) -> str:
    """URL-encoded signature, as the docs show it (for hand-built URLs)."""
    return quote(token_signature_raw(app_key, app_secret, timestamp_ms), safe="")
