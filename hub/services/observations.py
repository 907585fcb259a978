"""Storing observations (the cube's rows) and reading the cube back for queries and views."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.storage.models import ObservationRow, utcnow
from hub.storage.sql import insert
from semantic_layer.observation import Observation
from semantic_layer.stock_types import parse_stock_type


def is_canonical(stock_type: str) -> bool:
    try:
        parse_stock_type(stock_type)
    except (ValueError, KeyError):
        return False
    return True


def mapping_node(rule_id: str, rule_version: str) -> str:
    return f"rule:{rule_id}@{rule_version}"


async def store(session: AsyncSession, observations: Sequence[Observation], *, parents: Iterable[str] = ()) -> list[int]:
    """Insert observations (a replay of the same raw event inserts nothing) and their lineage."""
    ids: list[int] = []
    parents = tuple(parents)
    stmt = insert(session, ObservationRow).on_conflict_do_nothing(
        index_elements=["raw_event_id", "rule_id", "rule_version", "sku", "location", "stock_type", "field"]
    ).returning(ObservationRow.id)
    nodes: dict[str, tuple[str, str, str, tuple[str, ...], dict[str, object]]] = {}
    now = utcnow()
    for obs in observations:
        values = {
            "source": obs.source, "sku": obs.sku, "location": obs.location, "stock_type": obs.stock_type,
            "quantity": int(obs.quantity), "observed_at": obs.observed_at, "raw_event_id": obs.raw_event_id,
            "rule_id": obs.rule_id, "rule_version": obs.rule_version, "field": obs.field,
            "canonical": is_canonical(obs.stock_type), "created_at": now,
        }  # fmt: skip
        row = (await session.execute(stmt, values)).first()
        if row is None:
            continue
        obs_id = int(row[0])
        ids.append(obs_id)
        rule_node = mapping_node(obs.rule_id, obs.rule_version) if obs.rule_id else ""
        if rule_node:
            nodes[rule_node] = (rule_node, "mapping_rule", f"{obs.rule_id} v{obs.rule_version}", (), {})
        raw = (f"raw:{obs.raw_event_id}",) if obs.raw_event_id is not None else ()
        node = f"observation:{obs_id}"
        nodes[node] = (node, "observation", f"{obs.source} says {obs.stock_type} of {obs.sku}@{obs.location} = "
                       f"{obs.quantity}", (*raw, *parents, *((rule_node,) if rule_node else ())),
                       {"source": obs.source, "field": obs.field, "rule": obs.rule_id,
                        "rule_version": obs.rule_version})  # fmt: skip
    await lineage.record_many(session, list(nodes.values()))
    return ids


def to_observation(row: ObservationRow) -> Observation:
    return Observation(
        source=row.source, sku=row.sku, location=row.location, stock_type=row.stock_type, quantity=row.quantity,
        observed_at=row.observed_at, raw_event_id=row.raw_event_id, rule_id=row.rule_id,
        rule_version=row.rule_version, field=row.field,
    )  # fmt: skip


async def latest_cells(
    session: AsyncSession, sku: str, *, as_of: datetime | None = None, location: str | None = None,
    stock_type: str | None = None,
) -> list[ObservationRow]:  # fmt: skip
    """The newest observation per (source, stock type, location) of a sku: the cube at ``realtime`` grain."""
    inner = select(
        ObservationRow.id,
        func.row_number()
        .over(
            partition_by=(ObservationRow.source, ObservationRow.stock_type, ObservationRow.location),
            order_by=(ObservationRow.observed_at.desc(), ObservationRow.id.desc()),
        )
        .label("rn"),
    ).where(ObservationRow.sku == sku)
    if location is not None:
        inner = inner.where(ObservationRow.location == location)
    if stock_type is not None:
        inner = inner.where(ObservationRow.stock_type == stock_type)
    if as_of is not None:
        inner = inner.where(ObservationRow.observed_at <= as_of)
    sub = inner.subquery()
    stmt = select(ObservationRow).join(sub, sub.c.id == ObservationRow.id).where(sub.c.rn == 1)
    return list((await session.execute(stmt.order_by(ObservationRow.source, ObservationRow.stock_type))).scalars())


async def history(
    session: AsyncSession, sku: str, *, start: datetime | None = None, end: datetime | None = None, limit: int = 50_000
) -> list[ObservationRow]:
    stmt = select(ObservationRow).where(ObservationRow.sku == sku)
    if start is not None:
        stmt = stmt.where(ObservationRow.observed_at >= start)
    if end is not None:
        stmt = stmt.where(ObservationRow.observed_at <= end)
    return list((await session.execute(stmt.order_by(ObservationRow.observed_at, ObservationRow.id).limit(limit))).scalars())
