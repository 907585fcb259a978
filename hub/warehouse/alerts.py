"""Safety-stock and low-stock alerts: a ledger listener that notices free stock crossing a threshold.

Runs in the transaction that moved the stock, so an alert exists exactly when the movement does. An
alert opens when free goes from at-or-above a threshold to below it (recorded in ``wh_alerts`` and
emitted as the hub event ``stock.low`` for outbound webhooks) and clears when free is back at or above.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.ledger import Movement
from hub.services import ledger
from hub.storage.models import Balance, Source, utcnow
from hub.storage.models_warehouse import StockAlert
from hub.warehouse.config import threshold_for, thresholds


async def _rules(session: AsyncSession) -> list[Any]:
    extra: list[Any] = []
    rows = (await session.execute(select(Source.settings).where(Source.platform == "qimen",
                                                                Source.enabled.is_(True)))).scalars()
    for settings in rows:
        found = (settings or {}).get("thresholds")
        if isinstance(found, list):
            extra.extend(r for r in found if isinstance(r, dict))
    return thresholds(extra)


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
    for (sku, location), delta in sorted(changed.items()):
        levels = threshold_for(rules, sku, location)
        if not levels:
            continue
        new = await session.scalar(select(Balance.qty).where(Balance.sku == sku,
                                                             Balance.account == f"{location}/free")) or 0
        old = new - delta
        for level, threshold in sorted(levels.items()):
            if new < threshold <= old:
                await _open(session, sku, location, level, threshold, int(new), last[(sku, location)])
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
