"""``POST /webhooks/{instance}``: every platform push lands here, is verified by its connector, and is
stored in the inbox (committed) before the platform gets the answer it expects."""

from __future__ import annotations

import json
import time
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import Provide

from connectors.base import Connector, PushedEvent, VerificationError
from hub import inbox
from hub.api.deps import provide_hub, provide_uow
from hub.bootstrap import Hub
from hub.channels import connector_for
from hub.domain.errors import HubError
from hub.metrics import INBOUND
from hub.services.uow import UnitOfWork

MAX_HEADERS_KEPT = 60


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["inbound"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @post("/{instance:str}", summary="A platform's signed push (verified by the instance's connector)",
          status_code=200)  # fmt: skip
    async def receive(self, instance: str, request: Request, uow: UnitOfWork, hub: Hub) -> Response[bytes]:
        body = await request.body()
        headers = _headers(request)
        try:
            connector = await connector_for(uow.session, hub.settings, instance)
        except HubError as exc:
            INBOUND.labels(source=instance, outcome="unknown_instance").inc()
            await uow.session.rollback()
            await inbox.record_refusal(hub.sessionmaker, source=instance, reason=exc.detail, headers=headers,
                                       body=body)  # fmt: skip
            return Response(json.dumps({"error": exc.detail}).encode(), status_code=404, media_type="application/json")
        try:
            events = _verify(connector, headers, body)
        except VerificationError as exc:
            if exc.refused:
                await inbox.store(uow.session, source=instance, platform_event_id=f"refused:{time.time_ns()}",
                                  body=body, headers=headers, verified=False, verification=exc.reason,
                                  status="refused")  # fmt: skip
                await uow.commit()
            INBOUND.labels(source=instance, outcome="refused" if exc.refused else "duplicate").inc()
            ack = connector.push_refusal(exc)
            return Response(ack.body, status_code=ack.status, media_type=ack.content_type)
        for event in events:
            payload = event.payload
            await inbox.store_and_enqueue(uow, source=instance, platform_event_id=event.event_id, topic=event.topic,
                                          body=body, headers=headers, payload=payload,
                                          verification="signature verified")  # fmt: skip
        await uow.commit()
        INBOUND.labels(source=instance, outcome="accepted").inc()
        ack = connector.push_ack(events[0]) if len(events) == 1 else _batch_ack(connector, events)
        return Response(ack.body, status_code=ack.status, media_type=ack.content_type)


def _verify(connector: Connector, headers: dict[str, str], body: bytes) -> list[PushedEvent]:
    now = time.time()
    per_message = getattr(connector, "verify_push_messages", None)
    if per_message is not None:
        events: list[PushedEvent] = per_message(headers, body, now=now)
        if not events:
            raise VerificationError(200, "every message in this push was already accepted", refused=False)
        return events
    return [connector.verify_push(headers, body, now=now)]


def _batch_ack(connector: Connector, events: list[PushedEvent]) -> Any:
    for event in events[1:]:
        connector.push_ack(event)
    return connector.push_ack(events[0])


def _headers(request: Request) -> dict[str, str]:  # type: ignore[type-arg]
    headers = {k.lower(): v for k, v in list(request.headers.items())[:MAX_HEADERS_KEPT]}
    if request.url.query:
        headers[":query"] = request.url.query  # Qimen signs the query string
    return headers
