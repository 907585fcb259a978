"""Ledger routes: movements, reservations, stock balances."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select

from hub.api.deps import provide_hub, provide_uow
from hub.api.schemas import BalanceOut, MovementBatchIn, MovementBatchOut, ReservationIn, SettleIn, StockOut
from hub.bootstrap import Hub
from hub.domain.ledger import make_movement
from hub.metrics import MOVEMENTS
from hub.services import ledger, reservations
from hub.services.uow import UnitOfWork
from hub.storage.models import Balance, MovementRow


class LedgerController(Controller):
    path = "/api/v1"
    tags = ["ledger"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @post("/movements", status_code=201, summary="Apply a batch of movements, all or nothing")
    async def post_movements(self, data: MovementBatchIn, uow: UnitOfWork, hub: Hub) -> MovementBatchOut:
        """Each movement is idempotent by ``key``: a repeat answers ``duplicate`` with the original id.
        409 when the batch would take a guarded bucket (``free``) below zero; nothing is applied then."""
        batch = [
            make_movement(key=m.key, sku=m.sku, qty=m.qty, source=m.from_, target=m.to, kind=m.kind, parents=m.parents)
            for m in data.movements
        ]
        results = await ledger.apply_movements(uow.session, batch, guarded_buckets=hub.settings.guarded_buckets)
        await uow.commit()
        for r in results:
            MOVEMENTS.labels(kind=r.movement.kind, result=r.status).inc()
        return _batch_out([r.as_dict() for r in results])

    @get("/movements", summary="Movements of a sku, newest first, paged by id")
    async def list_movements(
        self,
        hub: Hub,
        sku: str,
        before_id: Annotated[int | None, Parameter(query="before_id", gt=0, le=2**63 - 1)] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        stmt = select(MovementRow).where(MovementRow.sku == sku)
        if before_id is not None:
            stmt = stmt.where(MovementRow.id < before_id)
        async with hub.sessionmaker() as session:
            rows = (await session.execute(stmt.order_by(MovementRow.id.desc()).limit(limit))).scalars().all()
        items = [_movement_dict(r) for r in rows]
        next_before = rows[-1].id if len(rows) == limit else None
        return {"sku": sku, "movements": items, "next_before_id": next_before}

    @post("/reservations", status_code=201, summary="Hold free stock for an order (free → reserved)")
    async def reserve(self, data: ReservationIn, uow: UnitOfWork, hub: Hub) -> dict[str, Any]:
        result = await reservations.reserve(
            uow.session, key=data.key, sku=data.sku, location=data.location, qty=data.qty, order_ref=data.order_ref,
            expires_at=data.expires_at, parents=data.parents, guarded_buckets=hub.settings.guarded_buckets,
        )  # fmt: skip
        await uow.commit()
        return result.as_dict()

    @post("/reservations/{key:str}/ship", status_code=200, summary="Post a reservation (reserved → customer)")
    async def ship(self, key: str, uow: UnitOfWork, hub: Hub, data: SettleIn | None = None) -> dict[str, Any]:
        return await _settle(uow, hub, key, "ship", data)

    @post("/reservations/{key:str}/cancel", status_code=200, summary="Void a reservation (reserved → free)")
    async def cancel(self, key: str, uow: UnitOfWork, hub: Hub, data: SettleIn | None = None) -> dict[str, Any]:
        return await _settle(uow, hub, key, "cancel", data)

    @get("/stock/{sku:str}", summary="Balances per account with versions")
    async def stock(self, sku: str, hub: Hub) -> StockOut:
        async with hub.sessionmaker() as session:
            rows = await ledger.balances(session, sku)
        totals: dict[str, int] = {}
        for b in rows:
            bucket = b.account.partition("/")[2] or b.account
            totals[bucket] = totals.get(bucket, 0) + b.qty
        return StockOut(
            sku=sku,
            balances=[_balance(b) for b in rows],
            totals=totals,
            sum=sum(b.qty for b in rows),
        )


async def _settle(uow: UnitOfWork, hub: Hub, key: str, phase: str, data: SettleIn | None) -> dict[str, Any]:
    parents = data.parents if data else []
    result = await reservations.settle(
        uow.session, key, phase, parents=parents, guarded_buckets=hub.settings.guarded_buckets
    )
    await uow.commit()
    return result.as_dict()


def _balance(b: Balance) -> BalanceOut:
    return BalanceOut(account=b.account, qty=b.qty, version=b.version, updated_at=b.updated_at)


def _batch_out(items: list[dict[str, Any]]) -> MovementBatchOut:
    return msgspec.convert({"movements": items}, MovementBatchOut)


def _movement_dict(r: MovementRow) -> dict[str, Any]:
    return {
        "id": r.id, "key": r.key, "kind": r.kind, "sku": r.sku, "qty": r.qty, "from": r.from_account,
        "to": r.to_account, "created_at": r.created_at.isoformat(), "lineage_id": f"movement:{r.id}",
    }  # fmt: skip
