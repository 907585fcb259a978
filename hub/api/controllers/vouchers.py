"""Voucher routes: list / show vouchers with their ERP postings, retry dead letters, reconciliation."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter

from hub.api.deps import provide_hub, provide_uow
from hub.bootstrap import Hub
from hub.services.uow import UnitOfWork
from hub.vouchers import queries
from hub.vouchers.config import load_config
from hub.vouchers.reconcile import reconcile


class UnitCostIn(msgspec.Struct, forbid_unknown_fields=True):
    movement_key: str
    unit_cost: str | None = None
    entity: str | None = None
    counterparty_entity: str | None = None
    shop: str | None = None
    refs: dict[str, str] = {}


class VoucherController(Controller):
    path = "/api/v1/vouchers"
    tags = ["vouchers"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/", summary="Vouchers, newest first, with their ERP postings and the scan state")
    async def list_vouchers(
        self,
        hub: Hub,
        status: str | None = None,
        period: str | None = None,
        erp: str | None = None,
        before_id: Annotated[int | None, Parameter(gt=0)] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """``status`` pending|posted|failed (failed = dead letters), ``period`` YYYY-MM, ``erp`` source name."""
        async with hub.sessionmaker() as session:
            return await queries.list_vouchers(session, status=status, period=period, erp=erp, before_id=before_id,
                                               limit=limit)  # fmt: skip

    @get("/reconciliation", summary="Ledger stock value vs vouchers posted vs the ERP's read-back, for a period")
    async def reconciliation(self, hub: Hub, period: str, erp: str) -> dict[str, Any]:
        config = load_config(hub.settings, hub.ctx.extras)
        return await reconcile(hub.sessionmaker, hub.settings, config, period, erp)

    @get("/{voucher_id:int}", summary="One voucher: lines, movements, ERP numbers and messages, lineage id")
    async def get_voucher(self, hub: Hub, voucher_id: int) -> dict[str, Any]:
        async with hub.sessionmaker() as session:
            return await queries.get_voucher(session, voucher_id)

    @post("/{voucher_id:int}/retry", status_code=202, summary="Re-post a failed voucher after the fix")
    async def retry(self, uow: UnitOfWork, hub: Hub, voucher_id: int, erp: str | None = None) -> dict[str, Any]:
        """409 when the voucher has no failed posting (to ``erp``)."""
        result, job_ids = await queries.retry_voucher(uow.session, voucher_id, erp=erp)
        await uow.commit()
        await hub.queue.kick(job_ids)
        return result

    @post("/unit-costs", status_code=200, summary="Record a movement's unit cost / entity / shop / references")
    async def unit_cost(self, uow: UnitOfWork, data: UnitCostIn) -> dict[str, Any]:
        """Receipts are valued at this cost (entry order or ERP); record it before the scan reaches the movement,
        or to unblock a scan stopped at a receipt without a cost."""
        out = await queries.record_unit_cost(
            uow.session, data.movement_key, unit_cost=data.unit_cost, entity=data.entity,
            counterparty_entity=data.counterparty_entity, shop=data.shop, refs=data.refs,
        )  # fmt: skip
        await uow.commit()
        return out
