"""Secrets that rotate with an overlap, shared by inbound verification and outbound signing.

During a rotation both the old and the new secret must work (Shopify takes up to an hour to switch;
Standard Webhooks senders sign with every active secret), so a secret carries ``valid_until`` and
the old one stays usable until then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class RotatingSecret:
    """One secret; ``valid_until=None`` means current (no end set)."""

    secret: str | bytes
    valid_until: datetime | None = None

    def __repr__(self) -> str:  # never print the secret itself
        return f"RotatingSecret(secret=<redacted>, valid_until={self.valid_until!r})"

    def is_active(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until


SecretLike = RotatingSecret | str | bytes


def as_rotating(secret: SecretLike) -> RotatingSecret:
    return secret if isinstance(secret, RotatingSecret) else RotatingSecret(secret)


def active_secrets(secrets: Iterable[SecretLike], now: datetime | None = None) -> list[str | bytes]:
    """The secrets still valid at ``now``, in the given order (newest first by convention)."""
    moment = now or datetime.now(UTC)
    return [s.secret for s in map(as_rotating, secrets) if s.is_active(moment)]


def rotate(
    secrets: Sequence[SecretLike],
    new_secret: str | bytes,
    now: datetime | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> list[RotatingSecret]:
    """Put ``new_secret`` first; every still-active secret stays valid for ``overlap``; expired ones go."""
    moment = now or datetime.now(UTC)
    end = moment + overlap
    kept = [
        RotatingSecret(s.secret, end if s.valid_until is None else min(s.valid_until, end))
        for s in map(as_rotating, secrets)
        if s.is_active(moment)
    ]
    return [RotatingSecret(new_secret), *kept]
