"""Signed webhook deliveries, exactly as Shopify sends them (loopback targets only)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import httpx

from connectors.base import hmac_sha256_base64
from connectors.testing.delivery import delivery_client

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_target(url: str) -> str:
    """Refuse any webhook target that is not on the loopback interface."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or parsed.hostname not in LOOPBACK:
        raise ValueError(f"webhook target must be http(s) on 127.0.0.1/::1/localhost, got {url!r}")
    return url


def webhook_request(topic: str, payload: Any, *, secret: str, shop: str, version: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    triggered = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": hmac_sha256_base64(secret, body),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": version,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered,
    }
    return headers, body


async def deliver(target: str, headers: dict[str, str], body: bytes) -> int | str:
    """POST one delivery; returns the receiver's status, or the error text."""
    check_target(target)
    try:
        response = await delivery_client().post(target, content=body, headers=headers,
                                                timeout=httpx.Timeout(5.0, connect=1.0))  # Shopify's limits
        return response.status_code
    except httpx.HTTPError as exc:
        return f"delivery failed: {type(exc).__name__}"
