"""Tables of the voucher engine (凭证): scan cursor, costing state, vouchers, lines, ERP postings.

Money and quantities are stored as decimal TEXT (like ``view_values.value``): SQLite has no exact
decimal type, and a cent lost to a float round-trip would show up in reconciliation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import Base, Id, Json, UTCDateTime, utcnow


class VoucherCursor(Base):
    """How far the voucher scan has read the movements table (ids ≤ ``last_id`` are done)."""

    __tablename__ = "voucher_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    blocked_movement_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why the scan stopped (e.g. a receipt with no unit cost); None when it is not blocked."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CostingPositionRow(Base):
    """Moving-average position per ``entity|sku``; changed only by the scan, in movement-id order."""

    __tablename__ = "voucher_costing"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    entity: Mapped[str] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(128))
    quantity: Mapped[str] = mapped_column(String(60), default="0")
    value: Mapped[str] = mapped_column(String(60), default="0.00")
    last_unit_cost: Mapped[str | None] = mapped_column(String(60), nullable=True)
    last_movement_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MovementFinanceInfo(Base):
    """What finance knows about a movement that the ledger does not: unit cost (entry order or ERP),
    legal entity override, shop, references for the 摘要. Written before the scan reaches it."""

    __tablename__ = "voucher_movement_info"

    movement_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    unit_cost: Mapped[str | None] = mapped_column(String(60), nullable=True)
    entity: Mapped[str | None] = mapped_column(String(100), nullable=True)
    counterparty_entity: Mapped[str | None] = mapped_column(String(100), nullable=True)
    shop: Mapped[str | None] = mapped_column(String(100), nullable=True)
    refs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VoucherRow(Base):
    """A balanced voucher with LOGICAL accounts (ERP codes are applied when posting)."""

    __tablename__ = "vouchers"
    __table_args__ = (Index("ix_vouchers_period", "period", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    """Deterministic idempotency key (``ZS`` + 16 hex): a re-scan creates nothing new."""
    book: Mapped[str] = mapped_column(String(100))
    """Legal entity (= ERP account book via each ERP source's books map)."""
    date: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(7))
    template: Mapped[str] = mapped_column(String(80), default="")
    mode: Mapped[str] = mapped_column(String(20), default="movement")
    """movement (one per movement) | summary (汇总, per day/shop/sku)."""
    total: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VoucherLineRow(Base):
    __tablename__ = "voucher_lines"
    __table_args__ = (Index("ix_voucher_lines_voucher", "voucher_id", "seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    voucher_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(100))
    debit: Mapped[str] = mapped_column(String(40))
    credit: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    dims: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    movement_ids: Mapped[list[Any]] = mapped_column(Json, default=list)


class VoucherPosting(Base):
    """One voucher to one ERP source: pending → posted (ERP id/number) | failed (the ERP's message).

    ``failed`` is the dead letter: an operator fixes the mapping or the ERP and retries it.
    ``lease_until`` keeps two workers from posting the same voucher at once (Kingdee has no
    idempotent save; the query-before-save in the connector covers the rest).
    """

    __tablename__ = "voucher_postings"
    __table_args__ = (
        UniqueConstraint("voucher_id", "erp", name="uq_voucher_postings_voucher_erp"),
        Index("ix_voucher_postings_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    voucher_id: Mapped[int] = mapped_column(BigInteger)
    erp: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    erp_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    erp_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    already_posted: Mapped[bool] = mapped_column(Boolean, default=False)
    """True when the ERP already held the key (a retry after a timeout found the saved voucher)."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    erp_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class VoucherPart(Base):
    """Summary mode: a valued per-movement voucher waiting to be merged into its day's 汇总凭证."""

    __tablename__ = "voucher_parts"
    __table_args__ = (Index("ix_voucher_parts_open", "summary_voucher_id", "day"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    movement_id: Mapped[int] = mapped_column(BigInteger)
    book: Mapped[str] = mapped_column(String(100))
    day: Mapped[str] = mapped_column(String(10))
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    summary_voucher_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


VOUCHER_TABLES = [
    VoucherCursor.__table__,
    CostingPositionRow.__table__,
    MovementFinanceInfo.__table__,
    VoucherRow.__table__,
    VoucherLineRow.__table__,
    VoucherPosting.__table__,
    VoucherPart.__table__,
]
"""For tests until the lead's Alembic migration exists: ``Base.metadata.create_all(conn, tables=VOUCHER_TABLES)``."""
