"""Webhook subscriptions: create (SSRF-checked, secret generated and sealed), change, rotate the secret with an
overlap, list. The secret leaves this module only as the return value of create/rotate (shown once)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import InvalidRequest, NotFound
from hub.outbound import network
from hub.security.secrets import decrypt, encrypt
from hub.settings import Settings
from hub.storage.models import utcnow
from hub.storage.models_outbound import WebhookSubscription
from webhooks.outbound.signing import InvalidSecret, generate_secret, secret_key
from webhooks.outbound.ssrf import HostUnresolvable, SSRFRefused
from webhooks.rotation import RotatingSecret, active_secrets, rotate

EVENT_TYPES = (
    "stock.changed",
    "stock.low",
    "order.reserved",
    "sync.failed",
    "conflict.quarantined",
    "voucher.posted",
    "voucher.failed",
    "subscription.disabled",
)
"""Known types (documentation); any ``a.b`` name is accepted, so new emitters need no change here."""
EVENT_TYPE = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+(\.\*)?|[a-z][a-z0-9_]*\.\*)$")
MAX_URL = 2000


def _check_types(types: Sequence[str]) -> list[str]:
    if not types:
        raise InvalidRequest("event_types must name at least one event type (or '*')", field="event_types")
    bad = [t for t in types if not isinstance(t, str) or not EVENT_TYPE.match(t)]
    if bad:
        raise InvalidRequest(
            f"invalid event types {bad!r}: use names like 'stock.changed', 'stock.*' or '*'", field="event_types"
        )
    return sorted(set(types))


async def check_url(settings: Settings, url: str) -> None:
    """Refuse a receiver URL the SSRF guard would refuse (loopback, private, metadata… unless allow-listed)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise InvalidRequest(f"url must be 1-{MAX_URL} characters", field="url")
    try:
        await network.guard(settings).check_url(url)
    except SSRFRefused as exc:
        raise InvalidRequest(f"url refused: {exc}", field="url", reason="ssrf") from None
    except HostUnresolvable as exc:
        raise InvalidRequest(f"url refused: {exc}", field="url", reason="unresolvable") from None


def _seal(settings: Settings, secrets: Sequence[RotatingSecret]) -> bytes:
    items = [
        {
            "secret": s.secret if isinstance(s.secret, str) else s.secret.decode(),
            "valid_until": s.valid_until.isoformat() if s.valid_until else None,
        }
        for s in secrets
    ]
    return encrypt(settings, json.dumps(items).encode())


def unseal(settings: Settings, row: WebhookSubscription) -> list[RotatingSecret]:
    items = json.loads(decrypt(settings, row.secrets))
    return [
        RotatingSecret(i["secret"], datetime.fromisoformat(i["valid_until"]) if i["valid_until"] else None)
        for i in items
    ]


def signing_secrets(settings: Settings, row: WebhookSubscription, now: datetime | None = None) -> list[str | bytes]:
    return active_secrets(unseal(settings, row), now or utcnow())


def _valid_secret(secret: str) -> str:
    try:
        secret_key(secret)
    except InvalidSecret as exc:
        raise InvalidRequest(f"secret: {exc}", field="secret") from None
    if not secret.startswith("whsec_"):
        raise InvalidRequest("secret must start with 'whsec_'", field="secret")
    return secret


def subscription_dict(row: WebhookSubscription, settings: Settings | None = None) -> dict[str, Any]:
    """Everything but the secret; with ``settings``, how many secrets are active (rotation in progress)."""
    out: dict[str, Any] = {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "event_types": row.event_types,
        "filters": {"skus": row.filter_skus, "shops": row.filter_shops},
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "failing_since": row.failing_since.isoformat() if row.failing_since else None,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
    if settings is not None:
        secrets = unseal(settings, row)
        now = utcnow()
        out["active_secrets"] = sum(1 for s in secrets if s.is_active(now))
        ends = [s.valid_until for s in secrets if s.valid_until and s.is_active(now)]
        out["previous_secret_valid_until"] = max(ends).isoformat() if ends else None
    return out


async def create(
    session: AsyncSession,
    settings: Settings,
    *,
    url: str,
    event_types: Sequence[str],
    skus: Sequence[str] = (),
    shops: Sequence[str] = (),
    description: str = "",
    secret: str | None = None,
    created_by: str = "",
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (return it to the caller once; it is stored sealed)."""
    types = _check_types(event_types)
    await check_url(settings, url)
    plain = _valid_secret(secret) if secret is not None else generate_secret()
    now = utcnow()
    row = WebhookSubscription(
        url=url,
        description=description,
        event_types=types,
        filter_skus=sorted(set(skus)),
        filter_shops=sorted(set(shops)),
        secrets=_seal(settings, [RotatingSecret(plain)]),
        enabled=True,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row, plain


async def get(session: AsyncSession, subscription_id: int, *, lock: bool = False) -> WebhookSubscription:
    stmt = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return row


async def list_all(session: AsyncSession) -> list[WebhookSubscription]:
    return list((await session.execute(select(WebhookSubscription).order_by(WebhookSubscription.id))).scalars())


async def update(
    session: AsyncSession,
    settings: Settings,
    row: WebhookSubscription,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    skus: Sequence[str] | None = None,
    shops: Sequence[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> WebhookSubscription:
    if url is not None and url != row.url:
        await check_url(settings, url)
        row.url = url
    if event_types is not None:
        row.event_types = _check_types(event_types)
    if skus is not None:
        row.filter_skus = sorted(set(skus))
    if shops is not None:
        row.filter_shops = sorted(set(shops))
    if description is not None:
        row.description = description
    if enabled is not None and enabled != row.enabled:
        row.enabled = enabled
        row.disabled_reason = None if enabled else "disabled by an administrator"
        row.failing_since = None
    row.updated_at = utcnow()
    await session.flush()
    return row


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    row: WebhookSubscription,
    *,
    new_secret: str | None = None,
    overlap_seconds: float | None = None,
) -> str:
    """Sign with a new secret from now on; the old one keeps signing too until the overlap ends."""
    plain = _valid_secret(new_secret) if new_secret is not None else generate_secret()
    overlap = timedelta(seconds=settings.webhook_secret_overlap_seconds if overlap_seconds is None else overlap_seconds)
    row.secrets = _seal(settings, rotate(unseal(settings, row), plain, utcnow(), overlap))
    row.updated_at = utcnow()
    await session.flush()
    return plain


def matches(row: WebhookSubscription, event_type: str, sku: str | None, shop: str | None) -> bool:
    if not row.enabled:
        return False
    if not any(
        t == "*" or t == event_type or (t.endswith(".*") and event_type.startswith(t[:-1])) for t in row.event_types
    ):
        return False
    if row.filter_skus and sku not in row.filter_skus:
        return False
    return not (row.filter_shops and shop not in row.filter_shops)
