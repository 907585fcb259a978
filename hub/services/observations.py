"""Storing observations (the cube's rows) and reading the cube back for queries and views."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.storage.models import ObservationRow, utcnow
from hub.storage.sql import core, dialect_of, insert_for, per_dialect
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
    """Insert observations (a replay of the same raw event inserts nothing) and their lineage, in one
    statement for all of them. Returns the new rows' ids, in the order given."""
    return [i for i in await store_many(session, observations, parents=parents) if i is not None]


async def store_many(session: AsyncSession, observations: Sequence[Observation], *,
                     parents: Iterable[str] = ()) -> list[int | None]:  # fmt: skip
    """:func:`store`, answering for each observation given: its new row's id, or None (stored before)."""
    if not observations:
        return []
    parents = tuple(parents)
    now = utcnow()
    rows = [{"source": obs.source, "sku": obs.sku, "location": obs.location, "stock_type": obs.stock_type,
             "quantity": int(obs.quantity), "observed_at": obs.observed_at, "raw_event_id": obs.raw_event_id,
             "rule_id": obs.rule_id, "rule_version": obs.rule_version, "field": obs.field,
             "canonical": is_canonical(obs.stock_type), "created_at": now} for obs in observations]  # fmt: skip
    conn = await core(session)
    new = {tuple(r[1:]): int(r[0]) for r in (await conn.execute(_insert(dialect_of(session)), rows)).all()}
    ids: list[int | None] = []
    nodes: dict[str, tuple[str, str, str, tuple[str, ...], dict[str, object]]] = {}
    for obs, row in zip(observations, rows, strict=True):
        obs_id = new.pop(tuple(row[c] for c in _ORIGIN), None)
        ids.append(obs_id)
        if obs_id is None:
            continue
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


_O = ObservationRow.__table__
_ORIGIN = ("raw_event_id", "rule_id", "rule_version", "sku", "location", "stock_type", "field")


@per_dialect
def _insert(dialect: str) -> Any:
    return insert_for(dialect, _O).on_conflict_do_nothing(index_elements=list(_ORIGIN)).returning(
        _O.c.id, *(_O.c[c] for c in _ORIGIN))


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
    inner = _ranked(ObservationRow.sku == sku)
    if location is not None:
        inner = inner.where(ObservationRow.location == location)
    if stock_type is not None:
        inner = inner.where(ObservationRow.stock_type == stock_type)
    if as_of is not None:
        inner = inner.where(ObservationRow.observed_at <= as_of)
    sub = inner.subquery()
    stmt = select(ObservationRow).join(sub, sub.c.id == ObservationRow.id).where(sub.c.rn == 1)
    return list((await session.execute(stmt.order_by(ObservationRow.source, ObservationRow.stock_type))).scalars())


def _ranked(where: Any) -> Any:
    return select(
        ObservationRow.id,
        func.row_number()
        .over(
            partition_by=(ObservationRow.sku, ObservationRow.source, ObservationRow.stock_type, ObservationRow.location),
            order_by=(ObservationRow.observed_at.desc(), ObservationRow.id.desc()),
        )
        .label("rn"),
    ).where(where)


_RANKED = _ranked(_O.c.sku.in_(bindparam("skus", expanding=True))).subquery()
_LATEST_OF = (select(_O).join(_RANKED, _RANKED.c.id == _O.c.id).where(_RANKED.c.rn == 1)
              .order_by(_O.c.sku, _O.c.source, _O.c.stock_type))  # fmt: skip


async def latest_cells_of(session: AsyncSession, skus: Sequence[str]) -> dict[str, list[Any]]:
    """:func:`latest_cells` of several skus in one query (rows, not ORM objects: read them, never change them)."""
    out: dict[str, list[Any]] = {}
    if skus:
        for row in (await (await core(session)).execute(_LATEST_OF, {"skus": list(skus)})).all():
            out.setdefault(row.sku, []).append(row)
    return out


async def history(
    session: AsyncSession, sku: str, *, start: datetime | None = None, end: datetime | None = None, limit: int = 50_000
) -> list[ObservationRow]:
    stmt = select(ObservationRow).where(ObservationRow.sku == sku)
    if start is not None:
        stmt = stmt.where(ObservationRow.observed_at >= start)
    if end is not None:
        stmt = stmt.where(ObservationRow.observed_at <= end)
    return list((await session.execute(stmt.order_by(ObservationRow.observed_at, ObservationRow.id).limit(limit))).scalars())
