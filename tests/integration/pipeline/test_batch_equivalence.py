"""The batched pipeline records exactly what the per-event pipeline records.

Hypothesis writes sequences of a shop's real webhook payloads (orders created, paid, cancelled before or
after their creation, fulfilled, repeated; stock levels) as pending raw events twice, in two worlds that
share nothing but the database: one is processed by :func:`process_batch` in one call (runs, waves and
set-based statements), the other one event at a time by :func:`pipeline.process`, in arrival order.
Reservations, balances, raw-event outcomes, the listing's expected figure, the push jobs and the lineage
of every movement must come out the same. Stock is ample here; a short one is the next test's.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub import inbox
from hub.domain.ledger import make_movement
from hub.semantics import semantics
from hub.services import ledger, pipeline
from hub.services.pipeline_batch import process_batch
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.models import Balance, Job, LineageEdge, MovementRow, RawEvent, Reservation, Source, ViewValue
from hub.storage.models_sync import ListingState

GUARDED = ["free"]
SKUS = ["A", "B", "C"]
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

event = st.one_of(
    st.tuples(st.sampled_from(["orders/create", "orders/paid", "orders/cancelled", "orders/fulfilled"]),
              st.integers(0, 4), st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1,
                                          max_size=2, unique_by=lambda line: line[0])),
    st.tuples(st.just("inventory_levels/update"), st.integers(0, 2), st.integers(0, 50)),
)  # fmt: skip


def payload(topic: str, n: int, detail: Any, tag: str) -> dict[str, Any]:
    at = (T0 + timedelta(seconds=n)).isoformat()
    if topic == "inventory_levels/update":
        return {"inventory_item_id": 1000 + detail[0], "location_id": 7, "available": detail[1], "updated_at": at}
    order = detail[0]
    lines = [{"id": i, "sku": f"{sku}-{tag}", "quantity": qty} for i, (sku, qty) in enumerate(detail[1])]
    return {"id": 9000 + order, "created_at": at, "updated_at": at, "line_items": lines,
            "cancelled_at": at if topic == "orders/cancelled" else None,
            "fulfillment_status": "fulfilled" if topic == "orders/fulfilled" else None}  # fmt: skip


async def world(db: Settings, events: list[Any], *, batched: bool, stock: int = 100) -> dict[str, Any]:
    """One shop's events processed one way; what they left, with this world's names taken out."""
    tag = uuid.uuid4().hex[:8]
    name, sku_of = f"shopify_{tag}", {s: f"{s}-{tag}" for s in SKUS}
    engine = make_engine(db)
    sm = make_sessionmaker(engine)
    try:
        async with sm() as s, s.begin():
            listings = {sku_of[s_]: {"inventory_item_id": 1000 + i, "location_id": 7} for i, s_ in enumerate(SKUS)}
            s.add(Source(name=name, platform="shopify", default_location=f"W{tag}", listings=listings, settings={}))
            s.add_all(ListingState(source=name, sku=sku, expected=stock) for sku in sku_of.values())
            await ledger.apply_movements(s, [make_movement(key=f"open-{sku}", sku=sku, qty=stock, source="supplier",
                                                           target=f"W{tag}/free", kind="receive")
                                             for sku in sku_of.values()], guarded_buckets=GUARDED)  # fmt: skip
        ids = []
        async with sm() as s, s.begin():
            for n, (topic, order, detail) in enumerate(events):
                body = payload(topic, n, (order, detail), tag)
                stored = await inbox.store(s, source=name, platform_event_id=f"{tag}-{n}", topic=topic, body=b"{}",
                                           payload=body)  # fmt: skip
                ids.append(stored.raw_event_id)
        sem = semantics()
        if batched:
            assert await process_batch(sm, sem, ids, guarded_buckets=GUARDED, default_location="WH") == {}
        else:
            for raw_id in ids:
                async with sm() as s, s.begin():
                    await pipeline.process(s, sem, raw_id, guarded_buckets=GUARDED, default_location="WH")
        return await _left(sm, name, tag, ids)
    finally:
        await engine.dispose()


async def _left(sm: Any, name: str, tag: str, ids: list[int]) -> dict[str, Any]:
    def plain(text: str) -> str:
        text = text.replace(name, "SHOP").replace(f"-{tag}", "").replace(f"W{tag}", "W")
        for n, raw_id in enumerate(ids):
            text = text.replace(f"raw:{raw_id}", f"raw:#{n}")
        return text

    async with sm() as s:
        skus = [f"{x}-{tag}" for x in SKUS]
        res = (await s.execute(select(Reservation).where(Reservation.sku.in_(skus)))).scalars().all()
        bal = (await s.execute(select(Balance).where(Balance.sku.in_(skus)))).scalars().all()
        raws = (await s.execute(select(RawEvent).where(RawEvent.id.in_(ids)).order_by(RawEvent.id))).scalars().all()
        states = (await s.execute(select(ListingState).where(ListingState.source == name))).scalars().all()
        # any state: a hub of another test sharing the database may already have taken them
        jobs = (await s.execute(select(Job.job_key, Job.state).where(Job.job_key.like(f"%{name}%")))).all()
        moves = (await s.execute(select(MovementRow).where(MovementRow.sku.in_(skus)))).scalars().all()
        key_of = {f"movement:{m.id}": f"movement:{plain(m.key)}" for m in moves}
        edges = (await s.execute(select(LineageEdge).where(LineageEdge.child.in_(list(key_of))))).scalars().all()
        views = (await s.execute(select(ViewValue).where(ViewValue.sku.in_(skus)).order_by(ViewValue.id))).scalars().all()
    return {
        "reservations": sorted((plain(r.key), r.status, r.qty, plain(r.location)) for r in res),
        "balances": sorted((plain(b.sku), plain(b.account), b.qty) for b in bal if b.qty),
        "raw": [(r.status, plain(r.error or "")) for r in raws],
        "expected": sorted((plain(st_.sku), st_.expected) for st_ in states),
        "pushes enqueued": sorted({plain(k) for k, _ in jobs if k.startswith("push:")}),
        "movements": sorted((plain(m.key), m.kind, m.qty, plain(m.from_account), plain(m.to_account)) for m in moves),
        "lineage": sorted((key_of[e.child], key_of.get(e.parent, plain(e.parent))) for e in edges),
        "views": sorted({(v.view, plain(v.sku)): (v.value, v.inputs) for v in views}.items()),
    }


@pytest.mark.sqlite
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(event, min_size=1, max_size=14))
def test_a_batch_leaves_what_one_event_at_a_time_leaves(any_settings: Settings, events: list[Any]) -> None:
    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        return await world(any_settings, events, batched=True), await world(any_settings, events, batched=False)

    batched, single = asyncio.run(both())
    note(f"events: {events}")
    assert batched == single


@pytest.mark.sqlite
def test_a_run_short_of_stock_refuses_the_same_lines_as_one_event_at_a_time(any_settings: Settings) -> None:
    """Three orders of 2 on 5 units: the third is refused with its reason, the cancel then frees its units,
    and the order created again after the cancel holds again."""
    events = [("orders/create", 0, [("A", 2)]), ("orders/create", 1, [("A", 2)]), ("orders/create", 2, [("A", 2)]),
              ("orders/cancelled", 0, [("A", 2)]), ("orders/create", 3, [("A", 1)])]  # fmt: skip

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        return (await world(any_settings, events, batched=True, stock=5),
                await world(any_settings, events, batched=False, stock=5))  # fmt: skip

    batched, single = asyncio.run(both())
    assert batched == single
    assert [status for status, _ in batched["raw"]] == ["processed"] * 5
    assert batched["raw"][2][1] == "order 9002 line A: W/free for sku 'A' holds 1, 2 requested: short by 1"
    assert ("SHOP:9002:A", "held", 2, "W") not in batched["reservations"]
