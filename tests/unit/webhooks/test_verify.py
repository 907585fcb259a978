"""Inbound helpers: HMAC encodings, constant-time compare, timestamp window, rotation overlap."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from webhooks.inbound.verify import (
    SignatureInvalid,
    check_timestamp,
    constant_time_equals,
    digest_hex,
    hmac_base64,
    hmac_hex,
    verify_hmac,
    verify_standard_webhook,
)
from webhooks.outbound.signing import generate_secret, sign
from webhooks.rotation import RotatingSecret, active_secrets, rotate

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MSG = b'{"sku":"A","qty":3}'


def test_hmac_helpers_match_the_standard_library() -> None:
    expected = hmac.new(b"k", MSG, hashlib.sha256).digest()
    assert hmac_hex("k", MSG) == expected.hex()
    assert hmac_hex("k", MSG, upper=True) == expected.hex().upper()
    assert hmac_base64("k", MSG) == base64.b64encode(expected).decode()
    assert hmac_hex(b"k", MSG, "md5") == hmac.new(b"k", MSG, hashlib.md5).hexdigest()
    assert hmac_hex("k", MSG, "sha1") == hmac.new(b"k", MSG, hashlib.sha1).hexdigest()
    assert digest_hex(b"secretabcsecret") == hashlib.md5(b"secretabcsecret").hexdigest().upper()


def test_constant_time_equals() -> None:
    assert constant_time_equals("abc", b"abc")
    assert not constant_time_equals("abc", "abd")
    assert not constant_time_equals("abc", "abcd")


@pytest.mark.parametrize(
    ("encoding", "render"),
    [
        ("hex", lambda d: d.hex().upper()),
        ("hex", lambda d: d.hex()),
        ("hex_upper", lambda d: d.hex().upper()),
        ("hex_lower", lambda d: d.hex()),
        ("base64", lambda d: base64.b64encode(d).decode()),
    ],
)
def test_verify_hmac_accepts_each_encoding(encoding: str, render: object) -> None:
    provided = render(hmac.new(b"shop-secret", MSG, hashlib.sha256).digest())  # type: ignore[operator]
    assert verify_hmac(provided, MSG, ["shop-secret"], encoding=encoding).ok  # type: ignore[arg-type]


def test_verify_hmac_insists_on_case_when_asked() -> None:
    lower = hmac_hex("s", MSG)
    assert not verify_hmac(lower, MSG, ["s"], encoding="hex_upper").ok


@pytest.mark.parametrize(
    ("provided", "reason"),
    [(None, "missing"), ("", "missing"), ("00" * 32, "does not match"), ("zz", "does not match")],
)
def test_verify_hmac_failures_say_why(provided: str | None, reason: str) -> None:
    result = verify_hmac(provided, MSG, ["s"])
    assert not result.ok and reason in result.reason
    with pytest.raises(SignatureInvalid, match=reason):
        result.raise_for_failure()


def test_rotation_old_and_new_secrets_both_verify_during_overlap_only() -> None:
    secrets = rotate([RotatingSecret("old-secret")], "new-secret", now=NOW, overlap=timedelta(hours=1))
    assert [s.secret for s in secrets] == ["new-secret", "old-secret"]
    old_sig, new_sig = hmac_base64("old-secret", MSG), hmac_base64("new-secret", MSG)
    during = NOW + timedelta(minutes=59)
    assert verify_hmac(new_sig, MSG, secrets, encoding="base64", now=during).secret_index == 0
    assert verify_hmac(old_sig, MSG, secrets, encoding="base64", now=during).secret_index == 1
    after = NOW + timedelta(hours=1)
    assert verify_hmac(new_sig, MSG, secrets, encoding="base64", now=after).ok
    assert not verify_hmac(old_sig, MSG, secrets, encoding="base64", now=after).ok


def test_rotate_drops_expired_and_never_extends_an_earlier_end() -> None:
    expired = RotatingSecret("gone", NOW - timedelta(seconds=1))
    ending = RotatingSecret("ending", NOW + timedelta(minutes=10))
    rotated = rotate([ending, expired], "fresh", now=NOW, overlap=timedelta(hours=24))
    assert [(s.secret, s.valid_until) for s in rotated] == [("fresh", None), ("ending", NOW + timedelta(minutes=10))]
    assert active_secrets(rotated, NOW + timedelta(hours=1)) == ["fresh"]
    assert "ending" not in repr(rotated)


@pytest.mark.parametrize(
    ("offset", "ok"),
    [(0, True), (-299, True), (299, True), (-240, True), (240, True), (-360, False), (360, False), (-301, False)],
)
def test_timestamp_window_is_five_minutes_both_ways(offset: int, ok: bool) -> None:
    stamp = int(NOW.timestamp()) + offset
    assert check_timestamp(stamp, NOW).ok is ok
    assert check_timestamp(str(stamp), NOW).ok is ok


def test_timestamp_window_is_configurable_per_direction_and_unit() -> None:
    stamp_ms = int(NOW.timestamp() * 1000) + 90_000
    assert check_timestamp(stamp_ms, NOW, unit="ms").ok
    future = check_timestamp(stamp_ms, NOW, unit="ms", max_future=timedelta(seconds=60))
    assert not future.ok and "too new" in future.reason
    old = check_timestamp(NOW - timedelta(hours=2), NOW, max_age=timedelta(hours=1))
    assert not old.ok and "too old" in old.reason


@pytest.mark.parametrize("bad", [None, "", "soon", "nan", "1e400", datetime(2025, 6, 1)])
def test_unreadable_timestamps_are_refused_with_a_reason(bad: object) -> None:
    result = check_timestamp(bad, NOW)  # type: ignore[arg-type]
    assert not result.ok and ("missing" in result.reason or "unreadable" in result.reason)


def test_standard_webhook_inbound_verification_with_rotation_and_window() -> None:
    old, new = generate_secret(), generate_secret()
    secrets = [RotatingSecret(new), RotatingSecret(old, NOW + timedelta(hours=1))]
    signed_by_old = sign("msg_1", NOW, MSG, [old])
    assert verify_standard_webhook(signed_by_old, MSG, secrets, now=NOW).secret_index == 1
    assert not verify_standard_webhook(signed_by_old, MSG, secrets, now=NOW + timedelta(hours=2)).ok
    stale = verify_standard_webhook(sign("msg_1", NOW - timedelta(minutes=6), MSG, [new]), MSG, secrets, now=NOW)
    assert not stale.ok and "too old" in stale.reason
    tampered = verify_standard_webhook(sign("msg_1", NOW, MSG, [new]), MSG + b" ", secrets, now=NOW)
    assert not tampered.ok
    missing = verify_standard_webhook({"webhook-id": "x"}, MSG, secrets, now=NOW)
    assert not missing.ok and "missing" in missing.reason
