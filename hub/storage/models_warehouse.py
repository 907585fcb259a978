"""Warehouse-loop tables: WMS orders (outbound and inbound) with their lines, the idempotency record of every
WMS confirmation line booked, batches with expiry, low-stock alerts and parcel tracking.

The ledger stays the authority on quantities; these rows say *why* a movement happened and what the
warehouse was asked to do, so a confirmation that arrives twice, late or before its order's own
acknowledgement is booked exactly once against the right reservation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import Base, Id, Json, UTCDateTime, utcnow


class DeliveryOrder(Base):
    """An outbound order sent to a WMS (deliveryorder.create) for one marketplace order at one warehouse."""

    __tablename__ = "wh_delivery_orders"
    __table_args__ = (Index("ix_wh_delivery_orders_order", "source", "order_ref"),
                      Index("ix_wh_delivery_orders_express", "express_code"))

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    """deliveryOrderCode: what the WMS echoes in its confirmations."""
    source: Mapped[str] = mapped_column(String(100))
    order_ref: Mapped[str] = mapped_column(String(200))
    warehouse: Mapped[str] = mapped_column(String(64))
    """Hub location = the WMS warehouseCode."""
    wms_source: Mapped[str] = mapped_column(String(100))
    order_type: Mapped[str] = mapped_column(String(20), default="JYCK")
    status: Mapped[str] = mapped_column(String(30), default="pending")
    """pending → sent → accepted → partially_shipped → shipped | short_shipped | backordered; cancelling →
    cancelled | cancel_refused (the WMS had already shipped: the shipment wins); rejected (the WMS refused it)."""
    wms_order_id: Mapped[str] = mapped_column(String(100), default="")
    logistics_code: Mapped[str] = mapped_column(String(50), default="")
    express_code: Mapped[str] = mapped_column(String(100), default="")
    tracking_state: Mapped[str] = mapped_column(String(40), default="")
    picking_policy: Mapped[str] = mapped_column(String(20), default="")
    receiver: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    raw_event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryLine(Base):
    """One sku of a delivery order and how its reservation was settled so far."""

    __tablename__ = "wh_delivery_lines"

    order_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    line_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    sku: Mapped[str] = mapped_column(String(128))
    reservation_key: Mapped[str] = mapped_column(String(200))
    planned: Mapped[int] = mapped_column(BigInteger)
    shipped: Mapped[int] = mapped_column(BigInteger, default=0)
    """Units the WMS confirmed shipped (all of them, from the reservation or not)."""
    shipped_from_free: Mapped[int] = mapped_column(BigInteger, default=0)
    """Shipped after the reservation had been released (a cancel the WMS refused, a partial after the final)."""
    released: Mapped[int] = mapped_column(BigInteger, default=0)
    """Reserved units given back to free (short shipment closed, cancel)."""
    backordered: Mapped[int] = mapped_column(BigInteger, default=0)
    fefo: Mapped[list[Any]] = mapped_column(Json, default=list)
    """The picking hint: known batches of this sku at the warehouse, first expiry first."""

    @property
    def open(self) -> int:
        """Units still held in ``reserved`` for this line."""
        return self.planned - (self.shipped - self.shipped_from_free) - self.released


class InboundOrder(Base):
    """An expected inbound sent to a WMS: a purchase receipt, a transfer receipt or a customer return."""

    __tablename__ = "wh_inbound_orders"
    __table_args__ = (Index("ix_wh_inbound_orders_kind", "kind", "created_at"),)

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    """purchase | transfer | return"""
    warehouse: Mapped[str] = mapped_column(String(64))
    wms_source: Mapped[str] = mapped_column(String(100))
    order_type: Mapped[str] = mapped_column(String(20))
    """CGRK (purchase), DBRK (transfer), THRK (return)."""
    from_warehouse: Mapped[str] = mapped_column(String(64), default="")
    related_code: Mapped[str] = mapped_column(String(200), default="")
    """Return: the delivery order / marketplace order the goods come back from. Purchase: the PO."""
    source: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(30), default="pending")
    """pending → sent → accepted → received | short_received | over_received; rejected."""
    wms_order_id: Mapped[str] = mapped_column(String(100), default="")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboundLine(Base):
    __tablename__ = "wh_inbound_lines"

    order_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    line_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    sku: Mapped[str] = mapped_column(String(128))
    planned: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    """Every unit the WMS confirmed, whatever bucket it went to."""
    inspect: Mapped[bool] = mapped_column(Boolean, default=False)
    """Good units go to quality_hold instead of free (item needs inspection)."""
    by_bucket: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    unit_cost: Mapped[str | None] = mapped_column(String(40), nullable=True)
    """Purchase price per unit (decimal text): recorded for every receipt booked from this line, so its
    voucher is valued without a separate unit-cost call (the booking's key is only known at confirmation)."""


class ConfirmBooking(Base):
    """One WMS message line booked into the ledger; its key makes redelivered or replayed confirms no-ops."""

    __tablename__ = "wh_confirm_bookings"

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    order_code: Mapped[str] = mapped_column(String(100), default="")
    raw_event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    movement_ids: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockBatch(Base):
    """Units of one batch of a sku at a warehouse, as the WMS reported them, with expiry."""

    __tablename__ = "wh_batches"

    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    location: Mapped[str] = mapped_column(String(64), primary_key=True)
    batch_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    product_date: Mapped[str] = mapped_column(String(30), default="")
    expire_date: Mapped[str] = mapped_column(String(30), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockAlert(Base):
    """Free stock of a sku at a warehouse crossed below a threshold (open until it is back above)."""

    __tablename__ = "wh_alerts"
    __table_args__ = (Index("ix_wh_alerts_cell", "sku", "location", "level", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(20))
    """low | safety"""
    threshold: Mapped[int] = mapped_column(BigInteger)
    free: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="open")
    movement_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TrackingEvent(Base):
    """A carrier scan of a shipment (TMS push), attached to the delivery order it belongs to."""

    __tablename__ = "wh_tracking_events"
    __table_args__ = (Index("ix_wh_tracking_number", "express_code", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    raw_event_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    express_code: Mapped[str] = mapped_column(String(100))
    company: Mapped[str] = mapped_column(String(50), default="")
    state: Mapped[str] = mapped_column(String(40))
    delivery_order: Mapped[str | None] = mapped_column(String(100), nullable=True)
    context: Mapped[str] = mapped_column(String(500), default="")
    scanned_at: Mapped[str] = mapped_column(String(30), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


__all__ = ["ConfirmBooking", "DeliveryLine", "DeliveryOrder", "InboundLine", "InboundOrder", "StockAlert",
           "StockBatch", "TrackingEvent"]
