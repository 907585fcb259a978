"""Views over the cube and the ledger: recompute the ones an input change can affect, record each value
with the exact inputs it read (and their lineage), and skip writing when nothing changed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.semantics import Semantics
from hub.services import observations as obs_store
from hub.services.ledger import balances
from hub.storage.models import MovementRow, ObservationRow, ViewValue, utcnow
from semantic_layer.formula import Ref
from semantic_layer.views import ViewDefinition

Number = int | Decimal


class _Resolver:
    """Answers references for one sku and remembers which records each answer came from."""

    def __init__(self, cells: list[ObservationRow], ledger: dict[tuple[str, str], int], last_movement: int | None):
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


async def _inputs(session: AsyncSession, sku: str) -> tuple[list[ObservationRow], dict[tuple[str, str], int], int | None]:
    """Everything a view of ``sku`` may read, fetched once: the cube's latest cells, balances, last movement."""
    cells = await obs_store.latest_cells(session, sku)
    ledger: dict[tuple[str, str], int] = {}
    for b in await balances(session, sku):
        loc, _, bucket = b.account.partition("/")
        if bucket:
            ledger[(bucket, loc)] = b.qty
    last = await session.scalar(select(func.max(MovementRow.id)).where(MovementRow.sku == sku))
    return cells, ledger, last


async def evaluate(session: AsyncSession, view: ViewDefinition, sku: str) -> tuple[Any, _Resolver]:
    resolver = _Resolver(*await _inputs(session, sku))
    return view.evaluate(resolver), resolver


async def recompute(
    session: AsyncSession, sem: Semantics, sku: str, views: Iterable[ViewDefinition] | None = None
) -> list[ViewValue]:
    """Evaluate ``views`` (default: all) for ``sku``; store a new value only when value or inputs changed."""
    wanted = list(views if views is not None else sem.views.views.values())
    if not wanted:
        return []
    data = await _inputs(session, sku)
    latest_by_view = await _latest_values(session, sku, [v.name for v in wanted])
    written, nodes = [], []
    for view in wanted:
        resolver = _Resolver(*data)
        result = view.evaluate(resolver)
        inputs = {k: (str(v) if v is not None else None) for k, v in sorted(result.inputs.items())}
        value = str(result.value)
        latest = latest_by_view.get(view.name)
        if latest is not None and latest.value == value and latest.inputs == inputs and latest.version == str(view.version):
            continue
        row = ViewValue(view=view.name, version=str(view.version), sku=sku, value=value, inputs=inputs, computed_at=utcnow())
        session.add(row)
        await session.flush()
        view_node = f"viewdef:{view.name}@{view.version}"
        nodes.append((view_node, "view_definition", f"{view.name} v{view.version}: {view.formula.text}", (), {}))
        nodes.append((f"view:{row.id}", "view_value", f"{view.name}({sku}) = {value}",
                      (*dict.fromkeys(resolver.parents), view_node), {"inputs": inputs}))  # fmt: skip
        written.append(row)
    await lineage.record_many(session, nodes)
    return written


async def _latest_values(session: AsyncSession, sku: str, names: list[str]) -> dict[str, ViewValue]:
    sub = (select(ViewValue.view, func.max(ViewValue.id).label("id"))
           .where(ViewValue.sku == sku, ViewValue.view.in_(names)).group_by(ViewValue.view).subquery())  # fmt: skip
    rows = (await session.execute(select(ViewValue).join(sub, sub.c.id == ViewValue.id))).scalars().all()
    return {r.view: r for r in rows}


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
