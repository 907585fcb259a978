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


async def evaluate(session: AsyncSession, view: ViewDefinition, sku: str) -> tuple[Any, _Resolver]:
    cells = await obs_store.latest_cells(session, sku)
    ledger: dict[tuple[str, str], int] = {}
    for b in await balances(session, sku):
        loc, _, bucket = b.account.partition("/")
        if bucket:
            ledger[(bucket, loc)] = b.qty
    last = await session.scalar(select(func.max(MovementRow.id)).where(MovementRow.sku == sku))
    resolver = _Resolver(cells, ledger, last)
    return view.evaluate(resolver), resolver


async def recompute(
    session: AsyncSession, sem: Semantics, sku: str, views: Iterable[ViewDefinition] | None = None
) -> list[ViewValue]:
    """Evaluate ``views`` (default: all) for ``sku``; store a new value only when value or inputs changed."""
    written = []
    for view in views if views is not None else sem.views.views.values():
        result, resolver = await evaluate(session, view, sku)
        inputs = {k: (str(v) if v is not None else None) for k, v in sorted(result.inputs.items())}
        value = str(result.value)
        latest = await latest_value(session, view.name, sku)
        if latest is not None and latest.value == value and latest.inputs == inputs and latest.version == str(view.version):
            continue
        row = ViewValue(view=view.name, version=str(view.version), sku=sku, value=value, inputs=inputs, computed_at=utcnow())
        session.add(row)
        await session.flush()
        view_node = f"viewdef:{view.name}@{view.version}"
        await lineage.record(session, view_node, kind="view_definition", label=f"{view.name} v{view.version}: {view.formula.text}")
        await lineage.record(session, f"view:{row.id}", kind="view_value", parents=[*resolver.parents, view_node],
                             label=f"{view.name}({sku}) = {value}", data={"inputs": inputs})  # fmt: skip
        written.append(row)
    return written


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
