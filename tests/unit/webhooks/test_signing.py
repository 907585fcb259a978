"""Outbound signatures are what the reference ``standardwebhooks`` receiver accepts."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks.outbound.signing import InvalidSecret, generate_secret, secret_key, sign

PAYLOAD = {"type": "stock.changed", "data": {"sku": "A", "qty": 164, "note": "中枢"}}
BODY = json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()


def test_reference_receiver_accepts_our_signature() -> None:
    secret = generate_secret()
    headers = sign("msg_1", datetime.now(UTC), BODY, [secret])
    assert Webhook(secret).verify(BODY, headers) == PAYLOAD
    assert headers["webhook-id"] == "msg_1" and headers["webhook-signature"].startswith("v1,")


def test_reference_receiver_rejects_a_tampered_body() -> None:
    secret = generate_secret()
    headers = sign("msg_1", datetime.now(UTC), BODY, [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"164", b"165"), headers)


def test_rotation_signs_with_every_active_secret_so_old_and_new_receivers_verify() -> None:
    old, new = generate_secret(), generate_secret()
    headers = sign("msg_2", datetime.now(UTC), BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_reference_receiver_refuses_timestamps_outside_five_minutes(skew: timedelta) -> None:
    secret = generate_secret()
    headers = sign("msg_3", datetime.now(UTC) + skew, BODY, [secret])
    with pytest.raises(WebhookVerificationError, match="too (old|new)"):
        Webhook(secret).verify(BODY, headers)


@pytest.mark.parametrize("skew", [timedelta(minutes=-4), timedelta(minutes=4)])
def test_reference_receiver_accepts_four_minutes_of_skew(skew: timedelta) -> None:
    secret = generate_secret()
    Webhook(secret).verify(BODY, sign("msg_4", datetime.now(UTC) + skew, BODY, [secret]))


@pytest.mark.parametrize("n_bytes", [24, 32, 64])
def test_generated_secrets_have_prefix_and_length(n_bytes: int) -> None:
    secret = generate_secret(n_bytes)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == n_bytes
    assert secret != generate_secret(n_bytes)


@pytest.mark.parametrize("n_bytes", [0, 16, 23, 65])
def test_secret_lengths_outside_24_to_64_bytes_are_refused(n_bytes: int) -> None:
    with pytest.raises(InvalidSecret):
        generate_secret(n_bytes)


@pytest.mark.parametrize("bad", ["whsec_", "whsec_c2hvcnQ=", "whsec_not*base64!", b"short"])
def test_invalid_secrets_name_the_problem(bad: str | bytes) -> None:
    with pytest.raises(InvalidSecret):
        secret_key(bad)


def test_signing_refuses_no_secret_and_ids_that_break_the_signed_string() -> None:
    with pytest.raises(InvalidSecret):
        sign("msg", 1, BODY, [])
    with pytest.raises(ValueError, match="webhook id"):
        sign("a.b", 1, BODY, [generate_secret()])
