"""Manual replay: send a delivery again (same ``webhook-id``: it is the same event), or every delivery in a
time range. A replay starts a new round of the schedule; the attempts of earlier rounds stay on record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub.domain.errors import Conflict, InvalidRequest, NotFound
from hub.outbound.outbox import DELIVER_JOB, job_key
from hub.storage.models import utcnow
from hub.storage.models_outbound import DeliveryAttempt, WebhookDelivery, WebhookSubscription

MAX_RANGE_REPLAY = 10_000


async def _rearm(uow: Any, delivery: WebhookDelivery) -> None:
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    delivery.last_error = None
    await uow.enqueue(DELIVER_JOB, job_key(delivery.id), {"delivery_id": delivery.id})


async def replay_one(uow: Any, delivery_id: int) -> WebhookDelivery:
    delivery = await uow.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    sub = await uow.session.get(WebhookSubscription, delivery.subscription_id)
    if sub is None or not sub.enabled:
        raise Conflict(f"subscription {delivery.subscription_id} is disabled or deleted; enable it before replaying")
    await _rearm(uow, delivery)
    await uow.session.flush()
    return delivery


async def replay_range(
    uow: Any, start: datetime, end: datetime, *, subscription_id: int | None = None, states: tuple[str, ...] = ("dead",)
) -> list[int]:
    """Re-arm deliveries created in [start, end) in ``states`` (default: dead letters) of enabled subscriptions."""
    if end <= start:
        raise InvalidRequest("'to' must be after 'from'", field="to")
    stmt = (
        select(WebhookDelivery)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.created_at >= start,
            WebhookDelivery.created_at < end,
            WebhookDelivery.state.in_(states),
            WebhookSubscription.enabled.is_(True),
        )
        .order_by(WebhookDelivery.id)
        .limit(MAX_RANGE_REPLAY + 1)
    )
    if subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    rows = (await uow.session.execute(stmt)).scalars().all()
    if len(rows) > MAX_RANGE_REPLAY:
        raise InvalidRequest(f"more than {MAX_RANGE_REPLAY} deliveries in range; narrow it")
    for d in rows:
        await _rearm(uow, d)
    await uow.session.flush()
    return [d.id for d in rows]


def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "event_id": d.event_id,
        "lineage_id": f"outbound:{d.event_id}",
        "subscription_id": d.subscription_id,
        "webhook_id": d.webhook_id,
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
    }


def attempt_dict(a: DeliveryAttempt) -> dict[str, Any]:
    return {
        "attempt_no": a.attempt_no,
        "at": a.at.isoformat(),
        "status": a.status,
        "duration_ms": a.duration_ms,
        "error": a.error,
        "outcome": a.outcome,
        "response_excerpt": a.response_excerpt,
    }
