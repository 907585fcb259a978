"""Standard Webhooks signing (https://www.standardwebhooks.com).

The signed content is ``{msg_id}.{timestamp}.{body}``; each signature is ``v1,`` + base64 of
HMAC-SHA256 with the secret's decoded bytes. The ``webhook-signature`` header is a space-separated
list, one entry per active secret, so a receiver keeps verifying through a secret rotation.
Receivers verify with the ``standardwebhooks`` package unchanged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Sequence
from datetime import datetime

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


class InvalidSecret(ValueError):
    """A webhook secret that is not ``whsec_`` + base64 of 24–64 bytes."""


def generate_secret(n_bytes: int = 32) -> str:
    """A fresh ``whsec_…`` secret of ``n_bytes`` random bytes (24–64, per the spec's minimum)."""
    if not MIN_SECRET_BYTES <= n_bytes <= MAX_SECRET_BYTES:
        raise InvalidSecret(f"secret length must be {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes, got {n_bytes}")
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(n_bytes)).decode("ascii")


def secret_key(secret: str | bytes) -> bytes:
    """The HMAC key of a secret: raw bytes as given, or the base64 after ``whsec_`` decoded."""
    if isinstance(secret, bytes):
        key = secret
    else:
        encoded = secret.removeprefix(SECRET_PREFIX)
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidSecret("webhook secret is not valid base64 after the 'whsec_' prefix") from exc
    if len(key) < MIN_SECRET_BYTES:
        raise InvalidSecret(f"webhook secret must decode to at least {MIN_SECRET_BYTES} bytes, got {len(key)}")
    return key


def unix_seconds(timestamp: int | datetime) -> int:
    return timestamp if isinstance(timestamp, int) else int(timestamp.timestamp())


def signature(secret: str | bytes, msg_id: str, timestamp: int | datetime, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``msg_id.timestamp.body``."""
    signed = f"{msg_id}.{unix_seconds(timestamp)}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(msg_id: str, timestamp: int | datetime, body: bytes, secrets: Sequence[str | bytes]) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in ``secrets`` (the active ones).

    ``msg_id`` must stay the same across retries (it is the receiver's dedupe key); ``timestamp``
    should be the time of this attempt, so retries hours later still fall in the receiver's window.
    """
    if not msg_id or any(c in msg_id for c in ". \r\n"):
        raise ValueError(f"webhook id must be non-empty without dots, spaces or newlines: {msg_id!r}")
    if not secrets:
        raise InvalidSecret("at least one active secret is needed to sign")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(unix_seconds(timestamp)),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets),
    }
