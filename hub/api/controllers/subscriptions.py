"""Outbound webhook subscriptions, their deliveries, and replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter
from msgspec import Meta
from sqlalchemy import delete as sql_delete
from sqlalchemy import select

from hub.api.deps import provide_hub, provide_uow
from hub.bootstrap import Hub
from hub.domain.errors import InvalidRequest, NotFound
from hub.outbound import replay as replays
from hub.outbound import subscriptions as subs
from hub.security import Role, audit, current_principal, requires
from hub.services.uow import UnitOfWork
from hub.storage.models_outbound import DeliveryAttempt, WebhookDelivery, WebhookSubscription

MAX_ID = 2**63 - 1
Url = Annotated[str, Meta(min_length=1, max_length=2000, pattern=r"^[^\x00-\x20]*$")]
NO_NUL = r"^[^\x00]*$"
Names = Annotated[list[Annotated[str, Meta(min_length=1, max_length=128, pattern=NO_NUL)]], Meta(max_length=1000)]


class FiltersIn(msgspec.Struct, forbid_unknown_fields=True):
    skus: Names = []
    shops: Names = []


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    event_types: Annotated[list[Annotated[str, Meta(min_length=1, max_length=100)]], Meta(min_length=1, max_length=100)]
    filters: FiltersIn | None = None
    description: Annotated[str, Meta(max_length=500, pattern=NO_NUL)] = ""
    secret: Annotated[str, Meta(max_length=200)] | None = None
    """Optional ``whsec_…`` of your own; by default one is generated and returned once."""


class SubscriptionPatch(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | None = None
    event_types: (
        Annotated[list[Annotated[str, Meta(min_length=1, max_length=100)]], Meta(min_length=1, max_length=100)] | None
    ) = None
    filters: FiltersIn | None = None
    description: Annotated[str, Meta(max_length=500, pattern=NO_NUL)] | None = None
    enabled: bool | None = None


class RotateIn(msgspec.Struct, forbid_unknown_fields=True):
    overlap_seconds: Annotated[float, Meta(ge=0, le=30 * 86400)] | None = None
    secret: Annotated[str, Meta(max_length=200)] | None = None


class ReplayRangeIn(msgspec.Struct, forbid_unknown_fields=True):
    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")
    subscription_id: Annotated[int, Meta(ge=1, le=2**63 - 1)] | None = None
    states: Annotated[list[Annotated[str, Meta(pattern="^(dead|delivered|pending)$")]], Meta(min_length=1)] = (
        msgspec.field(default_factory=lambda: ["dead"])
    )


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidRequest(f"'{name}' needs a time zone (e.g. 2026-01-01T00:00:00Z)", field=name)
    return value


class SubscriptionsController(Controller):
    path = "/api/v1"
    tags = ["outbound webhooks"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/subscriptions", summary="Webhook subscriptions (never their secrets)", guards=[requires(Role.admin)])
    async def list_subscriptions(self, hub: Hub) -> list[dict[str, Any]]:
        async with hub.sessionmaker() as session:
            return [subs.subscription_dict(r, hub.settings) for r in await subs.list_all(session)]

    @post(
        "/subscriptions",
        status_code=201,
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
        summary="Subscribe a URL to event types; the response carries the signing secret, once",
    )
    async def create_subscription(
        self, data: SubscriptionIn, uow: UnitOfWork, hub: Hub, request: Request
    ) -> dict[str, Any]:
        """The URL is checked against the SSRF guard (loopback, private, link-local and metadata addresses are
        refused unless in ``ZHONGSHU_WEBHOOK_ALLOW``). Deliveries are signed per Standard Webhooks."""
        principal = current_principal(request)
        filters = data.filters or FiltersIn()
        row, secret = await subs.create(
            uow.session,
            hub.settings,
            url=data.url,
            event_types=data.event_types,
            skus=filters.skus,
            shops=filters.shops,
            description=data.description,
            secret=data.secret,
            created_by=principal.id if principal else "",
        )
        out = subs.subscription_dict(row, hub.settings)
        await audit(uow.session, principal, "subscription.create", f"subscription:{row.id}", None, out, request=request)
        await uow.commit()
        return {**out, "secret": secret if data.secret is None else None}

    @get("/subscriptions/{subscription_id:int}", summary="One subscription", guards=[requires(Role.admin)])
    async def get_subscription(self, subscription_id: int, hub: Hub) -> dict[str, Any]:
        async with hub.sessionmaker() as session:
            return subs.subscription_dict(await subs.get(session, subscription_id), hub.settings)

    @patch(
        "/subscriptions/{subscription_id:int}",
        summary="Change URL, event types, filters; enable or disable",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def update_subscription(
        self, subscription_id: int, data: SubscriptionPatch, uow: UnitOfWork, hub: Hub, request: Request
    ) -> dict[str, Any]:
        row = await subs.get(uow.session, subscription_id, lock=True)
        before = subs.subscription_dict(row)
        await subs.update(
            uow.session,
            hub.settings,
            row,
            url=data.url,
            event_types=data.event_types,
            skus=data.filters.skus if data.filters else None,
            shops=data.filters.shops if data.filters else None,
            description=data.description,
            enabled=data.enabled,
        )
        after = subs.subscription_dict(row, hub.settings)
        await audit(
            uow.session,
            current_principal(request),
            "subscription.update",
            f"subscription:{row.id}",
            before,
            after,
            request=request,
        )
        await uow.commit()
        return after

    @delete(
        "/subscriptions/{subscription_id:int}",
        status_code=200,
        summary="Delete a subscription",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def delete_subscription(self, subscription_id: int, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        row = await subs.get(uow.session, subscription_id, lock=True)
        before = subs.subscription_dict(row)
        await uow.session.execute(sql_delete(WebhookSubscription).where(WebhookSubscription.id == subscription_id))
        await audit(
            uow.session,
            current_principal(request),
            "subscription.delete",
            f"subscription:{subscription_id}",
            before,
            None,
            request=request,
        )
        await uow.commit()
        return {"id": subscription_id, "deleted": True}

    @post(
        "/subscriptions/{subscription_id:int}/rotate-secret",
        status_code=200,
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
        summary="New signing secret (returned once); the old one keeps signing until the overlap ends",
    )
    async def rotate_secret(
        self, subscription_id: int, uow: UnitOfWork, hub: Hub, request: Request, data: RotateIn | None = None
    ) -> dict[str, Any]:
        row = await subs.get(uow.session, subscription_id, lock=True)
        data = data or RotateIn()
        secret = await subs.rotate_secret(
            uow.session, hub.settings, row, new_secret=data.secret, overlap_seconds=data.overlap_seconds
        )
        out = subs.subscription_dict(row, hub.settings)
        await audit(
            uow.session,
            current_principal(request),
            "subscription.rotate_secret",
            f"subscription:{row.id}",
            None,
            out,
            request=request,
        )
        await uow.commit()
        return {**out, "secret": secret if data.secret is None else None}

    @get(
        "/deliveries",
        summary="Webhook deliveries, newest first; state=dead lists the dead letters",
        guards=[requires(Role.viewer)],
    )
    async def list_deliveries(
        self,
        hub: Hub,
        state_: Annotated[str | None, Parameter(query="state", pattern="^(pending|delivered|dead)$")] = None,
        subscription_id: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        before_id: Annotated[int | None, Parameter(gt=0, le=MAX_ID)] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        stmt = select(WebhookDelivery)
        if state_:
            stmt = stmt.where(WebhookDelivery.state == state_)
        if subscription_id is not None:
            stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
        if before_id is not None:
            stmt = stmt.where(WebhookDelivery.id < before_id)
        async with hub.sessionmaker() as session:
            rows = (await session.execute(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))).scalars().all()
        return {
            "deliveries": [replays.delivery_dict(d) for d in rows],
            "next_before_id": rows[-1].id if len(rows) == limit else None,
        }

    @get("/deliveries/{delivery_id:int}", summary="One delivery with every attempt", guards=[requires(Role.viewer)])
    async def get_delivery(self, delivery_id: int, hub: Hub) -> dict[str, Any]:
        async with hub.sessionmaker() as session:
            d = await session.get(WebhookDelivery, delivery_id)
            if d is None:
                raise NotFound(f"no webhook delivery {delivery_id}")
            attempts = (
                (
                    await session.execute(
                        select(DeliveryAttempt)
                        .where(DeliveryAttempt.delivery_id == delivery_id)
                        .order_by(DeliveryAttempt.id)
                    )
                )
                .scalars()
                .all()
            )
        return {**replays.delivery_dict(d), "attempts": [replays.attempt_dict(a) for a in attempts]}

    @post(
        "/deliveries/{delivery_id:int}/replay",
        status_code=202,
        guards=[requires(Role.operator)],
        opt={"audit": "explicit"},
        summary="Send one delivery again (same webhook-id)",
    )
    async def replay_delivery(self, delivery_id: int, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        d = await replays.replay_one(uow, delivery_id)
        out = replays.delivery_dict(d)
        await audit(
            uow.session,
            current_principal(request),
            "delivery.replay",
            f"delivery:{delivery_id}",
            None,
            out,
            request=request,
        )
        await uow.commit()
        return out

    @post(
        "/deliveries/replay",
        status_code=202,
        guards=[requires(Role.operator)],
        opt={"audit": "explicit"},
        summary="Send again every delivery created in a time range (default: dead letters only)",
    )
    async def replay_range(self, data: ReplayRangeIn, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        ids = await replays.replay_range(
            uow,
            _aware(data.start, "from"),
            _aware(data.end, "to"),
            subscription_id=data.subscription_id,
            states=tuple(data.states),
        )
        after = {
            "from": data.start.isoformat(),
            "to": data.end.isoformat(),
            "subscription_id": data.subscription_id,
            "states": data.states,
            "replayed": len(ids),
        }
        await audit(
            uow.session, current_principal(request), "delivery.replay_range", "deliveries", None, after, request=request
        )
        await uow.commit()
        return {**after, "delivery_ids": ids}
