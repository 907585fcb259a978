"""Verify a Shopify webhook exactly as Shopify signs it.

``X-Shopify-Hmac-Sha256`` is ``base64(HMAC-SHA256(app secret, raw body))``, compared in constant
time over the raw bytes, before any JSON parsing. ``X-Shopify-Event-Id`` (falling back to
``X-Shopify-Webhook-Id``) is the dedupe key; ``X-Shopify-Triggered-At`` older than the replay
window is refused as stale (Shopify redelivers the original payload for up to 4 h, so a long
window is a setting: ``webhook_replay_window``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from connectors.base import (
    PushedEvent,
    VerificationError,
    check_freshness,
    constant_time_equals,
    hmac_sha256_base64,
    lower_headers,
)

from . import constants as c

__all__ = ["parse_shopify_time", "verify_webhook"]


def parse_shopify_time(value: str) -> datetime:
    """Parse Shopify's ISO 8601 times, including nanosecond fractions and a trailing ``Z``."""
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        n = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:n][:6].ljust(6, '0')}{rest[n:]}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str,
    now: float,
    replay_window: float = c.DEFAULT_REPLAY_WINDOW,
    shop_domain: str | None = None,
) -> PushedEvent:
    """Return the event, or raise ``VerificationError(401)`` for any refused delivery."""
    h = lower_headers(headers)
    missing = [name for name in c.REQUIRED_WEBHOOK_HEADERS if not h.get(name)]
    if missing:
        raise VerificationError(401, f"missing Shopify webhook header(s): {', '.join(missing)}")
    if not constant_time_equals(h[c.H_HMAC].strip(), hmac_sha256_base64(secret, body)):
        raise VerificationError(401, "X-Shopify-Hmac-Sha256 does not match the body")
    if shop_domain and h[c.H_SHOP].lower() != shop_domain.lower():
        raise VerificationError(401, f"webhook is for shop {h[c.H_SHOP]!r}, not {shop_domain!r}")
    occurred_at = None
    if h.get(c.H_TRIGGERED_AT):
        try:
            occurred_at = parse_shopify_time(h[c.H_TRIGGERED_AT])
        except ValueError:
            raise VerificationError(400, "X-Shopify-Triggered-At is not an ISO 8601 time") from None
        check_freshness(occurred_at.timestamp(), now=now, window=replay_window, what="X-Shopify-Triggered-At")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise VerificationError(400, "webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise VerificationError(400, "webhook body is not a JSON object")
    return PushedEvent(
        event_id=h.get(c.H_EVENT_ID) or h[c.H_WEBHOOK_ID],
        topic=h[c.H_TOPIC],
        payload=payload,
        occurred_at=occurred_at,
        source=h[c.H_SHOP],
        headers={k: v for k, v in h.items() if k.startswith("x-shopify-") and k != c.H_HMAC},
    )
