"""The ``outbound.deliver`` job: one attempt of one delivery, recorded, then rescheduled, finished or dead-lettered.

The HTTP call happens outside any transaction. The next attempt is a NEW job row (re-enqueued with the
schedule's delay) rather than a job retry, so the webhook schedule and the generic job-retry budget stay
separate. A subscription failing every attempt for ``webhook_disable_after_seconds`` (or answering 410) is
disabled and a ``subscription.disabled`` event raised for operators.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from hub.jobs import outbox as jobs_outbox
from hub.jobs.registry import JobContext, job
from hub.outbound import network
from hub.outbound.outbox import DELIVER_JOB, body_of, emit, job_key
from hub.outbound.subscriptions import signing_secrets
from hub.settings import Settings
from hub.storage.models import utcnow
from hub.storage.models_outbound import DeliveryAttempt, OutboundEvent, WebhookDelivery, WebhookSubscription
from webhooks.outbound.delivery import AttemptResult, deliver
from webhooks.outbound.schedule import DEFAULT_SCHEDULE, Outcome, RetrySchedule, decide, should_disable_endpoint

log = logging.getLogger("zhongshu.outbound")


def schedule_of(settings: Settings) -> RetrySchedule:
    delays = (
        tuple(settings.webhook_retry_delays) if settings.webhook_retry_delays is not None else DEFAULT_SCHEDULE.delays
    )
    return RetrySchedule(delays=delays, jitter=settings.webhook_retry_jitter)


@job(DELIVER_JOB, max_attempts=50)
async def deliver_job(ctx: JobContext, delivery_id: int) -> None:
    settings = ctx.settings
    async with ctx.sessionmaker() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.state != "pending":
            return  # delivered, dead or replaced meanwhile: at-least-once runs are no-ops
        sub = await session.get(WebhookSubscription, delivery.subscription_id)
        event = await session.get(OutboundEvent, delivery.event_id)
        if sub is None or event is None or not sub.enabled:
            reason = "subscription deleted" if sub is None else "subscription disabled"
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(state="dead", last_error=reason, next_attempt_at=None)
            )
            await session.commit()
            return
        now = utcnow()
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            wait = (delivery.next_attempt_at - now).total_seconds()
            ids = [
                await jobs_outbox.enqueue(
                    session, DELIVER_JOB, job_key(delivery_id), {"delivery_id": delivery_id}, delay=wait
                )
            ]
            await session.commit()
            await ctx.queue.kick(ids, delay=wait)
            return
        url, msg_id, body, secrets = sub.url, delivery.webhook_id, body_of(event), signing_secrets(settings, sub, now)
        attempt_no = delivery.attempts + 1

    async with network.client(settings) as client:
        result = await deliver(client, url, msg_id=msg_id, body=body, secrets=secrets)
    kick = await _record(ctx, delivery_id, attempt_no, result)
    if kick:
        await ctx.queue.kick(kick[0], delay=kick[1])


async def _record(
    ctx: JobContext, delivery_id: int, attempt_no: int, result: AttemptResult
) -> tuple[list[int], float] | None:
    settings = ctx.settings
    now = utcnow()
    decision = decide(attempt_no, result.status, result.retry_after, now, schedule_of(settings))
    outcome = (
        "success"
        if decision.outcome is Outcome.SUCCESS
        else "refused"
        if result.refused
        else "dead"
        if decision.next_at is None
        else "retry"
    )
    async with ctx.sessionmaker() as session, session.begin():
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.state != "pending":
            return None
        sub = await session.get(WebhookSubscription, delivery.subscription_id, with_for_update=True)
        session.add(
            DeliveryAttempt(
                delivery_id=delivery_id,
                attempt_no=attempt_no,
                at=now,
                status=result.status,
                duration_ms=result.duration_ms,
                error=result.error,
                response_excerpt=result.response_excerpt[:1024],
                outcome=outcome,
            )
        )
        delivery.attempts = attempt_no
        delivery.last_status = result.status
        delivery.last_error = result.error
        if decision.outcome is Outcome.SUCCESS:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
            if sub is not None:
                sub.failing_since = None
            return None
        if sub is not None and sub.failing_since is None:
            sub.failing_since = now
        disable = decision.disable_endpoint or (
            sub is not None and should_disable_endpoint(sub.failing_since, now, _disable_after(settings))
        )
        if decision.next_at is None or disable:
            delivery.state, delivery.next_attempt_at = "dead", None
            delivery.last_error = (
                f"{result.error or 'failed'}; {decision.reason}"
                if decision.next_at is None
                else (f"{result.error or 'failed'}; subscription disabled")
            )
            if disable and sub is not None and sub.enabled:
                await _disable(
                    session,
                    sub,
                    delivery,
                    now,
                    "410 Gone"
                    if decision.disable_endpoint
                    else f"every delivery failed since {sub.failing_since.isoformat()}",
                )
            return None
        delivery.next_attempt_at = decision.next_at
        wait = max(0.0, (decision.next_at - now).total_seconds())
        job_id = await jobs_outbox.enqueue(
            session, DELIVER_JOB, job_key(delivery_id), {"delivery_id": delivery_id}, delay=wait
        )
    return [job_id], wait


def _disable_after(settings: Settings):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(seconds=settings.webhook_disable_after_seconds)


async def _disable(session, sub: WebhookSubscription, delivery: WebhookDelivery, now: datetime, why: str) -> None:  # type: ignore[no-untyped-def]
    sub.enabled = False
    sub.disabled_reason = why
    sub.updated_at = now
    log.warning("webhook subscription %s disabled: %s", sub.id, why)
    # The other pending deliveries of this subscription will not be attempted; mark them so operators see why.
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == sub.id,
            WebhookDelivery.state == "pending",
            WebhookDelivery.id != delivery.id,
        )
        .values(state="dead", last_error="subscription disabled", next_attempt_at=None)
    )
    from hub.security.audit import audit

    await audit(
        session,
        None,
        "subscription.disabled",
        f"subscription:{sub.id}",
        {"enabled": True},
        {"enabled": False, "reason": why},
    )
    await emit(
        session,
        "subscription.disabled",
        {
            "subscription_id": sub.id,
            "url": sub.url,
            "reason": why,
            "failing_since": sub.failing_since.isoformat() if sub.failing_since else None,
        },
    )


async def pending_without_job(session) -> list[int]:  # type: ignore[no-untyped-def]
    """Deliveries pending with no pending/running job (only after manual database surgery); for ``jobs recover``."""
    from hub.storage.models import Job

    keyed = select(Job.job_key).where(Job.name == DELIVER_JOB, Job.state.in_(("pending", "running")))
    rows = await session.execute(select(WebhookDelivery.id).where(WebhookDelivery.state == "pending"))
    have = set((await session.execute(keyed)).scalars())
    return [d for d in rows.scalars() if job_key(d) not in have]
