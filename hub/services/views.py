"""Views over the cube and the ledger: recompute the ones an input change can affect, record each value
with the exact inputs it read (and their lineage), and skip writing when nothing changed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.semantics import Semantics
from hub.services import observations as obs_store
from hub.storage.models import Balance, MovementRow, ViewValue, utcnow
from hub.storage.sql import core
from semantic_layer.formula import Ref
from semantic_layer.views import ViewDefinition

Number = int | Decimal


class _Resolver:
    """Answers references for one sku and remembers which records each answer came from."""

    def __init__(self, cells: list[Any], ledger: dict[tuple[str, str], int], last_movement: int | None):
        self.cells, self.ledger, self.last_movement = cells, ledger, last_movement
        self.parents: list[str] = []

    def __call__(self, ref: Ref) -> Number | None:
        if ref.is_ledger:
            found = [q for (bucket, loc), q in self.ledger.items() if bucket == ref.stock_type
                     and ref.location in (None, loc)]  # fmt: skip
            if found and self.last_movement:
                self.parents.append(f"movement:{self.last_movement}")
            return sum(found) if found else None
        rows = [r for r in self.cells if r.source == ref.source and r.stock_type == ref.stock_type
                and ref.location in (None, r.location)]  # fmt: skip
        self.parents.extend(f"observation:{r.id}" for r in rows)
        return sum(r.quantity for r in rows) if rows else None


_Inputs = tuple[list[Any], dict[tuple[str, str], int], int | None]
_B, _M, _V = Balance.__table__, MovementRow.__table__, ViewValue.__table__
_BALANCES = select(_B.c.sku, _B.c.account, _B.c.qty).where(_B.c.sku.in_(bindparam("skus", expanding=True)))
_LAST_MOVEMENT = (select(_M.c.sku, func.max(_M.c.id)).where(_M.c.sku.in_(bindparam("skus", expanding=True)))
                  .group_by(_M.c.sku))  # fmt: skip
_LATEST_VALUES = select(_V).where(_V.c.id.in_(
    select(func.max(_V.c.id)).where(_V.c.sku.in_(bindparam("skus", expanding=True)),
                                    _V.c.view.in_(bindparam("views", expanding=True)))
    .group_by(_V.c.view, _V.c.sku).scalar_subquery()))  # fmt: skip
_INSERT_VALUES = insert(_V).returning(_V.c.id, sort_by_parameter_order=True)


async def _inputs(session: AsyncSession, skus: list[str]) -> dict[str, _Inputs]:
    """Everything a view of each sku may read, fetched once for all of them: the cube's latest cells,
    balances, the last movement."""
    cells = await obs_store.latest_cells_of(session, skus)
    conn = await core(session)
    ledger: dict[str, dict[tuple[str, str], int]] = {sku: {} for sku in skus}
    for sku, account, qty in (await conn.execute(_BALANCES, {"skus": skus})).all():
        loc, _, bucket = account.partition("/")
        if bucket:
            ledger[sku][(bucket, loc)] = qty
    last = dict((await conn.execute(_LAST_MOVEMENT, {"skus": skus})).all())
    return {sku: (cells.get(sku, []), ledger[sku], last.get(sku)) for sku in skus}


async def evaluate(session: AsyncSession, view: ViewDefinition, sku: str) -> tuple[Any, _Resolver]:
    resolver = _Resolver(*(await _inputs(session, [sku]))[sku])
    return view.evaluate(resolver), resolver


async def recompute(
    session: AsyncSession, sem: Semantics, sku: str, views: Iterable[ViewDefinition] | None = None
) -> list[int]:
    """Evaluate ``views`` (default: all) for ``sku``; store a new value only when value or inputs changed.
    Returns the ids of the values written."""
    return await recompute_many(session, sem, {sku: views})


async def recompute_many(
    session: AsyncSession, sem: Semantics, wanted: dict[str, Iterable[ViewDefinition] | None]
) -> list[int]:
    """:func:`recompute` for several skus (sku → its views, None for all), reading and writing once."""
    todo = {sku: list(views if views is not None else sem.views.views.values()) for sku, views in wanted.items()}
    todo = {sku: views for sku, views in todo.items() if views}
    if not todo:
        return []
    skus = sorted(todo)
    data = await _inputs(session, skus)
    conn = await core(session)
    names = sorted({v.name for views in todo.values() for v in views})
    latest = {(r.sku, r.view): r for r in (await conn.execute(_LATEST_VALUES, {"skus": skus, "views": names})).all()}
    now = utcnow()
    rows, nodes = [], []
    for sku in skus:
        for view in todo[sku]:
            resolver = _Resolver(*data[sku])
            result = view.evaluate(resolver)
            inputs = {k: (str(v) if v is not None else None) for k, v in sorted(result.inputs.items())}
            value, before = str(result.value), latest.get((sku, view.name))
            if before is not None and before.value == value and before.inputs == inputs and before.version == str(view.version):
                continue
            rows.append({"view": view.name, "version": str(view.version), "sku": sku, "value": value,
                         "inputs": inputs, "computed_at": now})  # fmt: skip
            nodes.append((view, sku, value, inputs, tuple(dict.fromkeys(resolver.parents))))
    if not rows:
        return []
    ids = [int(r[0]) for r in (await conn.execute(_INSERT_VALUES, rows)).all()]
    lineage_nodes = []
    for id_, (view, sku, value, inputs, parents) in zip(ids, nodes, strict=True):
        view_node = f"viewdef:{view.name}@{view.version}"
        lineage_nodes.append((view_node, "view_definition", f"{view.name} v{view.version}: {view.formula.text}", (), {}))
        lineage_nodes.append((f"view:{id_}", "view_value", f"{view.name}({sku}) = {value}", (*parents, view_node),
                              {"inputs": inputs}))  # fmt: skip
    await lineage.record_many(session, lineage_nodes)
    return ids


def affected(sem: Semantics, changes: Iterable[tuple[str, str, str]]) -> list[ViewDefinition]:
    """Views that read any of the (source, stock type, location) cells that changed."""
    names: dict[str, ViewDefinition] = {}
    for source, stock_type, location in changes:
        for view in sem.views.affected_by(source, stock_type, location):
            names[view.name] = view
    return list(names.values())


async def latest_value(session: AsyncSession, view: str, sku: str) -> ViewValue | None:
    stmt = select(ViewValue).where(ViewValue.view == view, ViewValue.sku == sku).order_by(ViewValue.id.desc()).limit(1)
    return (await session.execute(stmt)).scalars().first()
