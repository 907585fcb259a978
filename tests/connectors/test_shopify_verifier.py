"""Shopify webhook and OAuth signatures, checked against independently computed vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest

from connectors.base import VerificationError
from connectors.shopify.oauth import callback_message, verify_callback
from connectors.shopify.verifier import parse_shopify_time, verify_webhook

SECRET = "shpss_example"
DOC_BODY = (
    b'{"inventory_item_id":271878346596884015,"location_id":24826418,"available":6,'
    b'"updated_at":"2021-12-31T19:00:00-05:00","admin_graphql_api_id":'
    b'"gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015"}'
)


def expected_hmac(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers_for(body: bytes, *, secret: str = SECRET, triggered: datetime | None = None) -> dict[str, str]:
    at = (triggered or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    return {
        "X-Shopify-Hmac-Sha256": expected_hmac(secret, body),
        "X-Shopify-Topic": "inventory_levels/update",
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": at,
    }


def test_research_vector_matches_an_independent_hmac() -> None:
    assert expected_hmac(SECRET, DOC_BODY) == "IpV4XhLTABZQMbq1mnYS7D36X5IbRIBY1rDExOdr4iQ="


def test_accepts_a_correctly_signed_webhook_and_dedupes_on_event_id() -> None:
    event = verify_webhook(headers_for(DOC_BODY), DOC_BODY, secret=SECRET, now=time.time())
    assert event.event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert event.topic == "inventory_levels/update" and event.payload["available"] == 6
    assert event.source == "example.myshopify.com"


def test_header_names_are_case_insensitive_and_webhook_id_is_the_fallback_key() -> None:
    headers = {k.lower(): v for k, v in headers_for(DOC_BODY).items() if k != "X-Shopify-Event-Id"}
    event = verify_webhook(headers, DOC_BODY, secret=SECRET, now=time.time())
    assert event.event_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


@pytest.mark.parametrize(
    "body_change, secret",
    [(b"7", SECRET), (b"6", "shpss_other")],
    ids=["tampered-body", "wrong-secret"],
)
def test_refuses_tampered_body_or_wrong_secret(body_change: bytes, secret: str) -> None:
    body = DOC_BODY.replace(b'"available":6', b'"available":' + body_change)
    with pytest.raises(VerificationError) as info:
        verify_webhook(headers_for(DOC_BODY), body, secret=secret, now=time.time())
    assert info.value.status_code == 401 and info.value.refused


def test_refuses_a_delivery_older_than_the_replay_window() -> None:
    old = datetime.fromtimestamp(time.time() - 600, UTC)
    with pytest.raises(VerificationError, match="Triggered-At"):
        verify_webhook(headers_for(DOC_BODY, triggered=old), DOC_BODY, secret=SECRET, now=time.time(),
                       replay_window=300)
    # a longer window (Shopify retries for 4 h) accepts the same delivery
    verify_webhook(headers_for(DOC_BODY, triggered=old), DOC_BODY, secret=SECRET, now=time.time(), replay_window=3600)


def test_refuses_missing_headers_and_foreign_shop() -> None:
    headers = headers_for(DOC_BODY)
    del headers["X-Shopify-Topic"]
    with pytest.raises(VerificationError, match="X-Shopify-Topic".lower()):
        verify_webhook(headers, DOC_BODY, secret=SECRET, now=time.time())
    with pytest.raises(VerificationError, match="not 'mine.myshopify.com'"):
        verify_webhook(headers_for(DOC_BODY), DOC_BODY, secret=SECRET, now=time.time(),
                       shop_domain="mine.myshopify.com")


def test_refuses_signed_bodies_that_are_not_json_objects() -> None:
    for body in (b"[1,2]", b"\xff\xfe", b"{"):
        with pytest.raises(VerificationError) as info:
            verify_webhook(headers_for(body), body, secret=SECRET, now=time.time())
        assert info.value.status_code == 400


def test_parses_nanosecond_triggered_at() -> None:
    parsed = parse_shopify_time("2023-03-29T18:00:27.877041743Z")
    assert parsed == datetime(2023, 3, 29, 18, 0, 27, 877041, tzinfo=UTC)


def test_oauth_callback_vector_matches_an_independent_hex_hmac() -> None:
    query = {"code": "0907a61c0c8d55e99db179b68161bc00", "host": "ZXhhbXBsZS5teXNob3BpZnkuY29tL2FkbWlu",
             "shop": "example.myshopify.com", "state": "0.6784241404160823", "timestamp": "1337178173"}
    message = "&".join(f"{k}={query[k]}" for k in sorted(query))
    digest = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert digest == "465f6c68ffd49123a80d61fb8606711cf3948135b40b66262c56d30f373b7aa8"
    assert callback_message({**query, "hmac": digest}) == message
    verify_callback({**query, "hmac": digest}, secret=SECRET, now=1337178173 + 60)
    with pytest.raises(VerificationError):  # outside the 90 s clock tolerance
        verify_callback({**query, "hmac": digest}, secret=SECRET, now=1337178173 + 91)
    with pytest.raises(VerificationError):
        verify_callback({**query, "shop": "evil.myshopify.com", "hmac": digest}, secret=SECRET, now=1337178173)


def test_webhook_payload_is_parsed_from_the_raw_bytes() -> None:
    body = json.dumps({"id": 1, "note": "空格 and unicode"}, ensure_ascii=False).encode()
    event = verify_webhook(headers_for(body), body, secret=SECRET, now=time.time())
    assert event.payload["note"] == "空格 and unicode"
