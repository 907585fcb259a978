"""Warehouse routes: delivery orders, entry orders (purchase receipts, transfers), returns, stock counts,
batches with expiry and low-stock alerts."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter
from msgspec import Meta
from sqlalchemy import select

from hub.api.deps import provide_hub, provide_uow
from hub.bootstrap import Hub
from hub.domain.errors import InvalidRequest, NotFound
from hub.services import reservations
from hub.services.uow import UnitOfWork
from hub.storage.models import Source
from hub.storage.models_warehouse import DeliveryLine, DeliveryOrder, InboundLine, InboundOrder, StockAlert
from hub.warehouse import inbound, outbound
from hub.warehouse.alerts import alert_dict
from hub.warehouse.config import RuleError
from hub.warehouse.jobs import SNAPSHOT_JOB
from hub.warehouse.stock import batches_of
from semantic_layer.observation import OrderEvent, OrderLine

Code = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")]
Location = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
Sku = Annotated[str, Meta(min_length=1, max_length=128)]
Qty = Annotated[int, Meta(gt=0, le=10**9)]
Limit = Annotated[int, Parameter(ge=1, le=500)]


class LineIn(msgspec.Struct, forbid_unknown_fields=True):
    sku: Sku
    qty: Qty
    inspect: bool = False
    unit_cost: Annotated[str, Meta(max_length=40)] | None = None
    """Purchase price per unit, decimal text ("12.50"): values the receipt's voucher."""


class DeliveryIn(msgspec.Struct, forbid_unknown_fields=True):
    source: Annotated[str, Meta(min_length=1, max_length=100)]
    order_ref: Annotated[str, Meta(min_length=1, max_length=150)]
    lines: Annotated[list[LineIn], Meta(min_length=1, max_length=200)]
    warehouse: Location | None = None
    province: str = ""


class EntryIn(msgspec.Struct, forbid_unknown_fields=True):
    warehouse: Location
    wms_source: Annotated[str, Meta(min_length=1, max_length=100)]
    lines: Annotated[list[LineIn], Meta(min_length=1, max_length=200)]
    kind: str = "purchase"
    code: Code | None = None
    from_warehouse: Location | None = None
    from_wms_source: Annotated[str, Meta(max_length=100)] | None = None
    """The WMS that runs ``from_warehouse``: it gets a DBCK outbound order, and the units go into transit
    when it confirms them shipped (without one they leave ``from_warehouse`` at once)."""
    purchase_order: Annotated[str, Meta(max_length=100)] = ""


class ReturnIn(msgspec.Struct, forbid_unknown_fields=True):
    delivery_order: Annotated[str, Meta(max_length=100)] | None = None
    warehouse: Location | None = None
    wms_source: Annotated[str, Meta(max_length=100)] | None = None
    lines: Annotated[list[LineIn], Meta(max_length=200)] = []
    code: Code | None = None
    source: Annotated[str, Meta(max_length=100)] = ""
    order_ref: Annotated[str, Meta(max_length=150)] = ""


class StockCountIn(msgspec.Struct, forbid_unknown_fields=True):
    wms_source: Annotated[str, Meta(min_length=1, max_length=100)]
    warehouse: Location
    items: Annotated[list[Sku], Meta(max_length=500)] = []


async def _deliveries(session: Any, orders: list[DeliveryOrder]) -> list[dict[str, Any]]:
    codes = [o.code for o in orders]
    lines = (await session.execute(select(DeliveryLine).where(DeliveryLine.order_code.in_(codes))
                                   .order_by(DeliveryLine.order_code, DeliveryLine.line_no))).scalars().all() if codes else []
    return [outbound.order_dict(o, [ln for ln in lines if ln.order_code == o.code]) for o in orders]


async def _inbounds(session: Any, orders: list[InboundOrder]) -> list[dict[str, Any]]:
    codes = [o.code for o in orders]
    lines = (await session.execute(select(InboundLine).where(InboundLine.order_code.in_(codes))
                                   .order_by(InboundLine.order_code, InboundLine.line_no))).scalars().all() if codes else []
    outs = [f"{o.code}-OUT" for o in orders if o.kind == "transfer"]  # transfers sent out by a WMS (DBCK)
    shipped: dict[str, dict[str, int]] = {}
    if outs:
        for line in (await session.execute(select(DeliveryLine).where(DeliveryLine.order_code.in_(outs)))).scalars():
            by_sku = shipped.setdefault(line.order_code.removesuffix("-OUT"), {})
            by_sku[line.sku] = by_sku.get(line.sku, 0) + line.shipped
    return [inbound.order_dict(o, [ln for ln in lines if ln.order_code == o.code], shipped.get(o.code)) for o in orders]


class WarehouseController(Controller):
    path = "/api/v1"
    tags = ["warehouse"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/warehouse/delivery-orders", summary="Delivery orders sent to WMSs, with their lines and status")
    async def list_deliveries(self, hub: Hub, source: str | None = None, order_ref: str | None = None,
                              code: str | None = None, status: str | None = None, limit: Limit = 100,
                              ) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(DeliveryOrder).order_by(DeliveryOrder.created_at.desc()).limit(limit)
        for column, value in ((DeliveryOrder.source, source), (DeliveryOrder.order_ref, order_ref),
                              (DeliveryOrder.code, code), (DeliveryOrder.status, status)):
            if value is not None:
                stmt = stmt.where(column == value)
        async with hub.sessionmaker() as session:
            return await _deliveries(session, list((await session.execute(stmt)).scalars().all()))

    @post("/warehouse/delivery-orders", status_code=201,
          summary="Reserve an order at the routed warehouse and send it to that warehouse's WMS")
    async def create_delivery(self, data: DeliveryIn, uow: UnitOfWork, hub: Hub) -> list[dict[str, Any]]:
        """For orders that reach the hub outside a marketplace feed; the source's routing rule applies."""
        session = uow.session
        source = await session.get(Source, data.source)
        if source is None:
            raise NotFound(f"no source {data.source!r}")
        try:
            rule = outbound.rule_for(source)
        except RuleError as exc:
            raise InvalidRequest(f"source {data.source!r} routing: {exc}") from None
        if data.warehouse is not None and rule.wms_of(data.warehouse) is None:
            raise InvalidRequest(f"warehouse {data.warehouse!r} has no WMS source in the routing rule",
                                 field="warehouse")  # fmt: skip
        if data.warehouse is None and not (rule.enabled and rule.warehouses):
            raise InvalidRequest(f"source {data.source!r} routes no orders (settings.routing); name a warehouse",
                                 field="warehouse")  # fmt: skip
        order = OrderEvent(source=data.source, kind="created", order_ref=data.order_ref,
                           lines=tuple(OrderLine(ln.sku, ln.qty) for ln in data.lines),
                           occurred_at=datetime.now(timezone.utc))  # fmt: skip
        payload = {"province": data.province}
        placements = ({ln.sku: data.warehouse for ln in data.lines} if data.warehouse is not None
                      else await outbound.route(session, source, order, payload))  # fmt: skip
        for line in data.lines:
            await reservations.reserve(session, key=outbound.reservation_key(order, line.sku), sku=line.sku,
                                       location=placements[line.sku], qty=line.qty, order_ref=data.order_ref,
                                       guarded_buckets=hub.settings.guarded_buckets)  # fmt: skip
        codes = await outbound.plan_delivery(session, source, order, placements, payload)
        rows = list((await session.execute(select(DeliveryOrder).where(DeliveryOrder.code.in_(codes)))).scalars())
        out = await _deliveries(session, rows)
        await uow.commit()
        return out

    @get("/warehouse/entry-orders", summary="Purchase receipts and transfers: expected, received, in transit")
    async def list_entries(self, hub: Hub, kind: str | None = None, code: str | None = None,
                           status: str | None = None, limit: Limit = 100) -> list[dict[str, Any]]:  # fmt: skip
        return await self._list_inbound(hub, kind, code, status, limit, exclude_returns=True)

    @post("/warehouse/entry-orders", status_code=201, summary="Send an entry order (purchase or transfer) to a WMS")
    async def create_entry(self, data: EntryIn, uow: UnitOfWork, hub: Hub) -> dict[str, Any]:
        """A transfer books ``from_warehouse/free → transit`` now (409 if that much is not free) and
        ``transit → warehouse/free`` when the receiving WMS confirms."""
        if data.kind not in ("purchase", "transfer"):
            raise InvalidRequest("kind must be 'purchase' or 'transfer' (returns: /api/v1/warehouse/returns)",
                                 field="kind")  # fmt: skip
        code = data.code or f"{'PO' if data.kind == 'purchase' else 'TR'}-{uuid.uuid4().hex[:12]}"
        order, _ = await inbound.create(
            uow.session, kind=data.kind, code=code, warehouse=data.warehouse, wms_source=data.wms_source,
            lines=[inbound.PlannedLine(ln.sku, ln.qty, ln.inspect, ln.unit_cost) for ln in data.lines],
            from_warehouse=data.from_warehouse or "", related_code=data.purchase_order,
            from_wms_source=data.from_wms_source or "",
            guarded_buckets=hub.settings.guarded_buckets)  # fmt: skip
        [out] = await _inbounds(uow.session, [order])
        await uow.commit()
        return out

    @get("/warehouse/returns", summary="Customer returns expected from / received by the WMS")
    async def list_returns(self, hub: Hub, code: str | None = None, status: str | None = None,
                           limit: Limit = 100) -> list[dict[str, Any]]:  # fmt: skip
        return await self._list_inbound(hub, "return", code, status, limit)

    @post("/warehouse/returns", status_code=201, summary="Expect a customer return at a WMS (returnorder.create)")
    async def create_return(self, data: ReturnIn, uow: UnitOfWork, hub: Hub) -> dict[str, Any]:
        """Goods coming back from a delivery order (``delivery_order``; ``lines`` limit the quantities), or
        from anywhere (``warehouse``, ``wms_source``, ``lines``). Channels see restocked units only once the
        WMS confirms the return into good stock."""
        session = uow.session
        if data.delivery_order:
            do = await session.get(DeliveryOrder, data.delivery_order)
            if do is None:
                raise NotFound(f"no delivery order {data.delivery_order!r}")
            quantities = {ln.sku: ln.qty for ln in data.lines} or None
            order = await inbound.return_for_delivery(session, do, guarded_buckets=hub.settings.guarded_buckets,
                                                      quantities=quantities)  # fmt: skip
            if order is None:
                raise InvalidRequest(f"delivery order {do.code} shipped nothing to return", field="delivery_order")
        else:
            if not (data.warehouse and data.wms_source and data.lines):
                raise InvalidRequest("give delivery_order, or warehouse, wms_source and lines")
            code = data.code or f"RT-{uuid.uuid4().hex[:12]}"
            order, _ = await inbound.create(
                session, kind="return", code=code, warehouse=data.warehouse, wms_source=data.wms_source,
                lines=[inbound.PlannedLine(ln.sku, ln.qty) for ln in data.lines], related_code=data.order_ref,
                source=data.source, guarded_buckets=hub.settings.guarded_buckets)  # fmt: skip
        [out] = await _inbounds(session, [order])
        await uow.commit()
        return out

    @post("/warehouse/stock-counts", status_code=202,
          summary="Ask a WMS for its inventory snapshot; arbitration books the differences")
    async def stock_count(self, data: StockCountIn, uow: UnitOfWork) -> dict[str, Any]:
        source = await uow.session.get(Source, data.wms_source)
        if source is None or source.platform != "qimen":
            raise InvalidRequest(f"wms_source {data.wms_source!r} is not a qimen source", field="wms_source")
        job_id = await uow.enqueue(SNAPSHOT_JOB, f"wh-count:{data.wms_source}:{data.warehouse}:{uuid.uuid4().hex}",
                                   {"wms_source": data.wms_source, "warehouse": data.warehouse,
                                    "items": list(data.items)})  # fmt: skip
        await uow.commit()
        return {"job_id": job_id}

    @get("/stock/{sku:str}/batches", summary="Batches of a sku per warehouse, with expiry and a near-expiry flag")
    async def batches(self, sku: str, hub: Hub,
                      days: Annotated[int | None, Parameter(ge=0, le=3650)] = None) -> dict[str, Any]:  # fmt: skip
        window = hub.settings.near_expiry_days if days is None else days
        async with hub.sessionmaker() as session:
            rows = await batches_of(session, sku, days=window, today=datetime.now(timezone.utc).date())
        return {"sku": sku, "near_expiry_days": window, "batches": rows}

    @get("/alerts", summary="Safety-stock and low-stock alerts")
    async def alerts(self, hub: Hub, status: str | None = None, sku: str | None = None,
                     limit: Limit = 100) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(StockAlert).order_by(StockAlert.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(StockAlert.status == status)
        if sku is not None:
            stmt = stmt.where(StockAlert.sku == sku)
        async with hub.sessionmaker() as session:
            return [alert_dict(a) for a in (await session.execute(stmt)).scalars()]

    async def _list_inbound(self, hub: Hub, kind: str | None, code: str | None, status: str | None, limit: int,
                            exclude_returns: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(InboundOrder).order_by(InboundOrder.created_at.desc()).limit(limit)
        if kind is not None:
            stmt = stmt.where(InboundOrder.kind == kind)
        elif exclude_returns:
            stmt = stmt.where(InboundOrder.kind != "return")
        for column, value in ((InboundOrder.code, code), (InboundOrder.status, status)):
            if value is not None:
                stmt = stmt.where(column == value)
        async with hub.sessionmaker() as session:
            return await _inbounds(session, list((await session.execute(stmt)).scalars().all()))
