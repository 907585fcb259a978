"""Lineage: every derived record names what it was derived from; the API walks the graph both ways.

Node ids are ``kind:ref`` strings (``raw:12``, ``observation:7``, ``decision:3``, ``movement:40``,
``view:erp.available@A#9``, ``push:5``); edges point from a child to each parent. Writers call
:func:`record` in the same transaction as the record itself, so lineage can never lag or be lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import NotFound
from hub.storage.models import LineageEdge, LineageNode, utcnow
from hub.storage.sql import core, dialect_of, insert_for, per_dialect

MAX_NODES = 500


async def record(
    session: AsyncSession,
    node_id: str,
    *,
    kind: str,
    label: str = "",
    parents: Iterable[str] = (),
    data: dict[str, Any] | None = None,
) -> None:
    await record_many(session, [(node_id, kind, label, tuple(parents), data or {})])


async def record_many(
    session: AsyncSession, nodes: Sequence[tuple[str, str, str, tuple[str, ...], dict[str, Any]]]
) -> None:
    """Insert nodes ``(id, kind, label, parents, data)`` and their parent edges; re-recording is a no-op."""
    if not nodes:
        return
    now = utcnow()
    rows = [{"id": n[0], "kind": n[1], "label": n[2][:300], "data": n[4], "created_at": now} for n in nodes]
    dialect = dialect_of(session)
    conn = await core(session)
    await conn.execute(_insert_nodes(dialect), rows)  # one constant statement: an executemany batch
    edges = [{"child": n[0], "parent": p} for n in nodes for p in dict.fromkeys(n[3]) if p and p != n[0]]
    if edges:
        await conn.execute(_insert_edges(dialect), edges)


@per_dialect
def _insert_nodes(dialect: str) -> Any:
    return insert_for(dialect, LineageNode.__table__).on_conflict_do_nothing()


@per_dialect
def _insert_edges(dialect: str) -> Any:
    return insert_for(dialect, LineageEdge.__table__).on_conflict_do_nothing()


_WALK = {
    "up": """
        WITH RECURSIVE walk(id, depth) AS (
            SELECT CAST(:start AS VARCHAR(250)), 0
            UNION
            SELECT e.parent, w.depth + 1 FROM lineage_edges e JOIN walk w ON e.child = w.id
            WHERE w.depth < :max_depth
        ) SELECT id, MIN(depth) FROM walk GROUP BY id LIMIT :limit""",
    "down": """
        WITH RECURSIVE walk(id, depth) AS (
            SELECT CAST(:start AS VARCHAR(250)), 0
            UNION
            SELECT e.child, w.depth + 1 FROM lineage_edges e JOIN walk w ON e.parent = w.id
            WHERE w.depth < :max_depth
        ) SELECT id, MIN(depth) FROM walk GROUP BY id LIMIT :limit""",
}


async def walk(session: AsyncSession, node_id: str, *, max_depth: int = 30) -> dict[str, Any]:
    """The node, everything upstream (what it came from) and downstream (what it caused), with edges."""
    node = await session.get(LineageNode, node_id)
    if node is None:
        raise NotFound(f"no lineage node {node_id!r}", node_id=node_id)
    result: dict[str, Any] = {"node": _node_dict(node, 0)}
    for direction in ("up", "down"):
        rows = (
            await session.execute(
                text(_WALK[direction]), {"start": node_id, "max_depth": max_depth, "limit": MAX_NODES}
            )
        ).all()
        depths = {r[0]: r[1] for r in rows if r[0] != node_id}
        nodes = (
            (await session.execute(select(LineageNode).where(LineageNode.id.in_(list(depths))))).scalars().all()
            if depths
            else []
        )
        ids = [*depths, node_id]
        col_from, col_to = (LineageEdge.child, LineageEdge.parent)
        edges = (
            (await session.execute(select(LineageEdge).where(col_from.in_(ids), col_to.in_(ids)))).scalars().all()
            if depths
            else []
        )
        key = "upstream" if direction == "up" else "downstream"
        result[key] = sorted((_node_dict(n, depths[n.id]) for n in nodes), key=lambda d: (d["depth"], d["id"]))
        result[f"{key}_edges"] = [{"child": e.child, "parent": e.parent} for e in edges]
    return result


def _node_dict(node: LineageNode, depth: int) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": node.kind,
        "label": node.label,
        "data": node.data,
        "created_at": node.created_at.isoformat(),
        "depth": depth,
    }
