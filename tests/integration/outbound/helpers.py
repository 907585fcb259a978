"""Small shared steps of the outbound tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from hub.outbound import emit
from hub.services.uow import UnitOfWork
from hub.storage.models_outbound import WebhookDelivery


class _NoKick:
    async def kick(self, *_: Any, **__: Any) -> None:
        """The hub's runner polls the jobs table."""


async def emit_events(sessionmaker: Any, event_type: str, payloads: list[dict[str, Any]], **kw: Any) -> list[int]:
    """Emit events in one committed transaction, as hub code does; returns the event ids."""
    async with UnitOfWork(sessionmaker, _NoKick()) as uow:
        ids = [(await emit(uow, event_type, p, **kw)).id for p in payloads]
        await uow.commit()
    return ids


async def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll until ``predicate()`` is truthy (a generous ceiling, not a timing assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def deliveries_of(sessionmaker: Any, subscription_id: int) -> list[WebhookDelivery]:
    async with sessionmaker() as session:
        stmt = (
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id)
        )
        return list((await session.execute(stmt)).scalars())


def subscribe(server: Any, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    r = httpx.post(
        server.url + "/api/v1/subscriptions",
        json={"url": url, "event_types": events, **extra},
        headers=server.auth,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()


def unique_path() -> str:
    return f"/hook-{uuid.uuid4().hex[:8]}"
