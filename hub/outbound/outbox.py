"""The outbound transactional outbox: :func:`emit` writes the event, one delivery per matching subscription
and a durable job for each, all in the caller's transaction. Commit the change and the event together or
neither; after a crash the pending job rows are still there and deliver with the same ``webhook-id``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.jobs import outbox as jobs_outbox
from hub.outbound.subscriptions import matches
from hub.storage.models import utcnow
from hub.storage.models_outbound import OutboundEvent, WebhookDelivery, WebhookSubscription

DELIVER_JOB = "outbound.deliver"


def webhook_id(event: OutboundEvent, subscription_id: int) -> str:
    """Stable per (event, subscription): the receiver's dedupe key across retries, restarts and replays."""
    return f"msg_{event.uid}_{subscription_id}"


def job_key(delivery_id: int) -> str:
    return f"{DELIVER_JOB}:{delivery_id}"


def body_of(event: OutboundEvent) -> bytes:
    """The bytes sent, identical on every attempt (deterministic serialisation of the stored row)."""
    envelope = {"id": event.uid, "type": event.type, "timestamp": event.created_at.isoformat(), "data": event.payload}
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


async def _enqueue(target: Any, key: str, args: dict[str, Any]) -> int:
    if hasattr(target, "enqueue") and hasattr(target, "session"):  # a UnitOfWork: kicks the queue after commit
        return int(await target.enqueue(DELIVER_JOB, key, args))
    return await jobs_outbox.enqueue(target, DELIVER_JOB, key, args)


async def emit(
    session: Any,
    event_type: str,
    payload: dict[str, Any],
    *,
    sku: str | None = None,
    shop: str | None = None,
    parents: Iterable[str] = (),
) -> OutboundEvent:
    """Record an outbound event and its deliveries in the caller's transaction (an AsyncSession, or a
    UnitOfWork so the delivery jobs are kicked right after its commit). Returns the event row
    (``lineage_id`` ``outbound:<id>``)."""
    db: AsyncSession = session.session if hasattr(session, "session") and hasattr(session, "enqueue") else session
    event = OutboundEvent(
        uid=uuid.uuid4().hex, type=event_type, payload=payload, sku=sku, shop=shop, created_at=utcnow()
    )
    db.add(event)
    await db.flush()
    await lineage.record(
        db,
        f"outbound:{event.id}",
        kind="outbound_event",
        label=event_type,
        parents=parents,
        data={"type": event_type, "sku": sku, "shop": shop},
    )
    subs = (await db.execute(select(WebhookSubscription).where(WebhookSubscription.enabled.is_(True)))).scalars()
    for sub in subs:
        if not matches(sub, event_type, sku, shop):
            continue
        delivery = WebhookDelivery(
            event_id=event.id,
            subscription_id=sub.id,
            webhook_id=webhook_id(event, sub.id),
            state="pending",
            attempts=0,
            next_attempt_at=event.created_at,
            created_at=event.created_at,
        )
        db.add(delivery)
        await db.flush()
        await _enqueue(session, job_key(delivery.id), {"delivery_id": delivery.id})
    return event
