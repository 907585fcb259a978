"""Shopify wire names in one place (header names, API version, error texts, GraphQL codes)."""

from __future__ import annotations

API_VERSION = "2024-10"  # last version the ShopifyAPI 12.x package knows; REST + compareQuantity still valid

# inbound webhook headers (lower-cased; lookups are case-insensitive)
H_HMAC = "x-shopify-hmac-sha256"
H_TOPIC = "x-shopify-topic"
H_SHOP = "x-shopify-shop-domain"
H_API_VERSION = "x-shopify-api-version"
H_WEBHOOK_ID = "x-shopify-webhook-id"
H_EVENT_ID = "x-shopify-event-id"
H_TRIGGERED_AT = "x-shopify-triggered-at"
REQUIRED_WEBHOOK_HEADERS = (H_HMAC, H_TOPIC, H_SHOP, H_API_VERSION, H_WEBHOOK_ID)

# outbound
H_ACCESS_TOKEN = "X-Shopify-Access-Token"
H_CALL_LIMIT = "X-Shopify-Shop-Api-Call-Limit"

TOPICS = frozenset({"orders/create", "orders/cancelled", "orders/updated", "inventory_levels/update"})

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "THROTTLED"
COMPARE_QUANTITY_STALE = "COMPARE_QUANTITY_STALE"

# documented defaults: REST Standard plan leaky bucket 40, leaking 2/s
REST_RATE = 2.0
REST_BURST = 40.0
DEFAULT_REPLAY_WINDOW = 300.0  # seconds a webhook's X-Shopify-Triggered-At may lag behind now
OAUTH_CLOCK_TOLERANCE = 90.0  # shopify-app-js HMAC_TIMESTAMP_PERMITTED_CLOCK_TOLERANCE_SEC
