"""A crash between a change and its delivery neither loses nor doubles the event (same webhook-id)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select

from hub.outbound import subscriptions as subs
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.migrate import upgrade
from hub.storage.models import Job
from hub.storage.models_outbound import WebhookDelivery
from tests.integration.outbound.helpers import emit_events, unique_path, wait_for
from tests.support.hubserver import HubServer


async def _scratch(tmp_path: Path) -> Settings:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/crash.db",
        redis_url=None,
        var_dir=tmp_path,
        webhook_allow=["127.0.0.1"],
        webhook_retry_delays=[0.05, 0.05],
        webhook_retry_jitter=0.0,
        job_stuck_after_seconds=0.3,
    )
    await upgrade(settings)
    return settings


async def _subscribe(sm, settings: Settings, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    async with sm() as session, session.begin():
        row, secret = await subs.create(session, settings, url=url, event_types=["stock.changed"])
        return row.id, secret


async def _deliveries(sm) -> list[WebhookDelivery]:  # type: ignore[no-untyped-def]
    async with sm() as session:
        return list((await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


async def test_event_committed_before_a_crash_is_delivered_after_restart(tmp_path: Path, receiver) -> None:
    settings = await _scratch(tmp_path)
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    path = unique_path()
    sub_id, secret = await _subscribe(sm, settings, receiver.endpoint(path))
    receiver.endpoints[path].secrets = [secret]
    # The change and its event commit together; the process "dies" before any job runs (no hub is up).
    await emit_events(sm, "stock.changed", [{"sku": "A", "available": 164}], sku="A")
    [pending] = await _deliveries(sm)
    assert pending.state == "pending" and receiver.at(path) == []

    with HubServer(settings):  # restart: the durable job row delivers it
        await wait_for(lambda: _state_is(sm, "delivered"), "delivery after restart")
    seen = receiver.at(path)
    assert len(seen) == 1 and seen[0].verified
    assert seen[0].headers["webhook-id"] == pending.webhook_id == f"msg_{_uid(seen[0])}_{sub_id}"
    await engine.dispose()


async def test_hub_killed_mid_delivery_redelivers_with_the_same_webhook_id(tmp_path: Path, receiver) -> None:
    settings = await _scratch(tmp_path)
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    path = unique_path()
    _, secret = await _subscribe(sm, settings, receiver.endpoint(path))
    hold = threading.Event()
    receiver.endpoints[path].secrets = [secret]
    receiver.endpoints[path].hold = hold
    await emit_events(sm, "stock.changed", [{"sku": "B", "available": 3}], sku="B")

    with HubServer(settings):
        await wait_for(lambda: receiver.at(path), "the first request to arrive")
    # The hub stopped while the receiver was still answering: nothing was recorded as delivered.
    hold.set()
    [delivery] = await _deliveries(sm)
    assert delivery.state == "pending"
    async with sm() as session:
        states = list((await session.execute(select(Job.state).where(Job.name == "outbound.deliver"))).scalars())
    # claimed by the dead runner ("running"), or, on a starved machine where the stop outlasted the attempt's
    # timeout, recorded as a failed attempt due again ("pending"): either way never finished
    assert states and set(states) <= {"running", "pending"}, states

    receiver.endpoints[path].hold = None
    with HubServer(settings):  # the lost job is re-run after job_stuck_after_seconds
        await wait_for(lambda: _state_is(sm, "delivered"), "redelivery after restart")
    seen = receiver.at(path)
    assert len(seen) >= 2 and all(s.verified for s in seen)
    assert {s.headers["webhook-id"] for s in seen} == {delivery.webhook_id}  # a deduping receiver applies it once
    await engine.dispose()


async def _state_is(sm, state: str) -> bool:  # type: ignore[no-untyped-def]
    rows = await _deliveries(sm)
    return bool(rows) and all(d.state == state for d in rows)


def _uid(seen) -> str:  # type: ignore[no-untyped-def]
    import json

    return json.loads(seen.body)["id"]


async def test_subscription_failing_too_long_is_disabled_and_operators_told(tmp_path: Path, receiver) -> None:
    settings = (await _scratch(tmp_path)).model_copy(update={"webhook_disable_after_seconds": 0.01})
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    bad, ops = unique_path(), unique_path()
    async with sm() as session, session.begin():
        bad_row, _ = await subs.create(session, settings, url=receiver.endpoint(bad), event_types=["stock.changed"])
        _, ops_secret = await subs.create(
            session, settings, url=receiver.endpoint(ops), event_types=["subscription.disabled"]
        )
    receiver.endpoints[bad].default = 503
    receiver.endpoints[ops].secrets = [ops_secret]
    await emit_events(sm, "stock.changed", [{"n": 1}, {"n": 2}])

    with HubServer(settings):
        await wait_for(lambda: receiver.at(ops), "subscription.disabled event", timeout=60)
        await wait_for(lambda: _none_pending(sm), "every delivery settled", timeout=60)  # stop once the runner is idle
    async with sm() as session:
        row = await session.get(type(bad_row), bad_row.id)
    states = sorted(d.state for d in await _deliveries(sm) if d.subscription_id == bad_row.id)
    assert row.enabled is False and "failed since" in row.disabled_reason
    assert states == ["dead", "dead"]  # the failing one and the one still waiting behind it
    assert receiver.at(ops)[0].verified
    await engine.dispose()


async def _none_pending(sm) -> bool:  # type: ignore[no-untyped-def]
    rows = await _deliveries(sm)
    return bool(rows) and all(d.state != "pending" for d in rows)
