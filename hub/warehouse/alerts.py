"""Safety-stock and low-stock alerts: a ledger listener that notices free stock crossing a threshold.

Runs in the transaction that moved the stock, so an alert exists exactly when the movement does. An
alert opens when free goes from at-or-above a threshold to below it (recorded in ``wh_alerts`` and
emitted as the hub event ``stock.low`` for outbound webhooks) and clears when free is back at or above.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels import enabled_sources
from hub.domain.ledger import Movement
from hub.services import ledger
from hub.storage.models import Balance, utcnow
from hub.storage.sql import core
from hub.storage.models_warehouse import StockAlert
from hub.warehouse.config import threshold_for, thresholds


async def _rules(session: AsyncSession) -> list[Any]:
    extra: list[Any] = []
    for source in await enabled_sources(session):  # cached rows: no query per ledger change
        found = (source.settings or {}).get("thresholds") if source.platform == "qimen" else None
        if isinstance(found, list):
            extra.extend(r for r in found if isinstance(r, dict))
    return thresholds(extra)


_B = Balance.__table__
_FREE = select(_B.c.sku, _B.c.account, _B.c.qty).where(_B.c.sku.in_(bindparam("skus", expanding=True)),
                                                       _B.c.account.like("%/free"))  # fmt: skip


async def on_ledger_change(session: AsyncSession, applied: list[Movement], ids: dict[str, int]) -> None:
    deltas: dict[tuple[str, str], int] = defaultdict(int)
    last: dict[tuple[str, str], int] = {}
    for m in applied:
        for account, sign in ((m.source, -1), (m.target, 1)):
            if account.bucket == "free":
                deltas[(m.sku, account.location)] += sign * m.qty
                last[(m.sku, account.location)] = ids[m.key]
    changed = {k: v for k, v in deltas.items() if v}
    if not changed:
        return
    rules = await _rules(session)
    if not rules:
        return
    levels = {cell: found for cell in changed if (found := threshold_for(rules, *cell))}
    if not levels:
        return
    rows = (await (await core(session)).execute(_FREE, {"skus": sorted({sku for sku, _ in levels})})).all()
    free = {(sku, account.rsplit("/", 1)[0]): int(qty) for sku, account, qty in rows}
    for (sku, location), cell_levels in sorted(levels.items()):
        new = free.get((sku, location), 0)
        old = new - changed[(sku, location)]
        for level, threshold in sorted(cell_levels.items()):
            if new < threshold <= old:
                await _open(session, sku, location, level, threshold, new, last[(sku, location)])
            elif new >= threshold:
                await _clear(session, sku, location, level)


async def _open(session: AsyncSession, sku: str, location: str, level: str, threshold: int, free: int,
                movement_id: int) -> None:  # fmt: skip
    existing = await session.scalar(select(StockAlert.id).where(
        StockAlert.sku == sku, StockAlert.location == location, StockAlert.level == level,
        StockAlert.status == "open"))  # fmt: skip
    if existing is not None:
        return
    alert = StockAlert(sku=sku, location=location, level=level, threshold=threshold, free=free, status="open",
                       movement_id=movement_id, created_at=utcnow())  # fmt: skip
    session.add(alert)
    await session.flush()
    from hub.outbound import emit

    event = await emit(session, "stock.low", {"sku": sku, "location": location, "level": level, "free": free,
                                              "threshold": threshold, "alert_id": alert.id},
                       sku=sku, parents=[f"movement:{movement_id}"])  # fmt: skip
    alert.event_id = event.id


async def _clear(session: AsyncSession, sku: str, location: str, level: str) -> None:
    rows = (await session.execute(select(StockAlert).where(
        StockAlert.sku == sku, StockAlert.location == location, StockAlert.level == level,
        StockAlert.status == "open"))).scalars().all()  # fmt: skip
    for row in rows:
        row.status, row.cleared_at = "cleared", utcnow()


def alert_dict(a: StockAlert) -> dict[str, Any]:
    return {"id": a.id, "sku": a.sku, "location": a.location, "level": a.level, "threshold": a.threshold,
            "free": a.free, "status": a.status, "movement_id": a.movement_id,
            "event_lineage_id": f"outbound:{a.event_id}" if a.event_id else None,
            "created_at": a.created_at.isoformat(),
            "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None}  # fmt: skip


if on_ledger_change not in ledger.LISTENERS:
    ledger.LISTENERS.append(on_ledger_change)
