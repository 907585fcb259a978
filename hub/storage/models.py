"""SQLAlchemy models: the hub's durable state. All state lives here; Redis only carries jobs.

Tables run unchanged on SQLite (embedded) and PostgreSQL (production); Alembic migrations in
``hub/storage/migrations`` create them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Id = BigInteger().with_variant(Integer, "sqlite")
Json = JSON().with_variant(JSON(none_as_null=True), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware everywhere: SQLite hands back naive values, which are re-tagged as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RawEvent(Base):
    """Every inbound payload, verbatim, committed before the platform gets its acknowledgement."""

    __tablename__ = "raw_events"
    __table_args__ = (
        UniqueConstraint("source", "platform_event_id", name="uq_raw_events_source_event"),
        Index("ix_raw_events_status", "status", "id"),
        Index("ix_raw_events_source_received", "source", "received_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    platform_event_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    headers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    """The bytes as received (a Douyin push holding several messages is stored once per message)."""
    payload: Mapped[Any | None] = mapped_column(Json, nullable=True)
    """The connector's parsed event when it differs from ``body`` (XML, one message of a batch, an enriched
    order); mappings read this, the console shows both."""
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verification: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending → processed | unmapped | failed; refused when verification failed (kept, never processed)."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MovementRow(Base):
    """An applied ledger movement. Append-only: never updated, never deleted."""

    __tablename__ = "movements"
    __table_args__ = (Index("ix_movements_sku_id", "sku", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    sku: Mapped[str] = mapped_column(String(128))
    qty: Mapped[int] = mapped_column(BigInteger)
    from_account: Mapped[str] = mapped_column(String(100))
    to_account: Mapped[str] = mapped_column(String(100))
    batch: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Balance(Base):
    """Current quantity per (sku, account), with a version bumped on every change."""

    __tablename__ = "balances"

    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    account: Mapped[str] = mapped_column(String(100), primary_key=True)
    qty: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Reservation(Base):
    """A two-phase hold: free→reserved now, then shipped (→customer), cancelled, or expired (→free)."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_status_expires", "status", "expires_at"),
                      Index("ix_reservations_order_ref", "order_ref"))

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sku: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(BigInteger)
    order_ref: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="held")
    """held → shipped | cancelled | expired."""
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LineageNode(Base):
    """A record the hub derived or received, addressable as ``kind:ref`` (``raw:12``, ``movement:40``)."""

    __tablename__ = "lineage_nodes"

    id: Mapped[str] = mapped_column(String(250), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LineageEdge(Base):
    """``child`` was derived from ``parent``."""

    __tablename__ = "lineage_edges"
    __table_args__ = (Index("ix_lineage_edges_parent", "parent"),)

    child: Mapped[str] = mapped_column(String(250), primary_key=True)
    parent: Mapped[str] = mapped_column(String(250), primary_key=True)


class Job(Base):
    """Durable job record (transactional outbox). Redis/arq or the in-process runner only deliver it.

    At most one *pending* row per ``job_key``: a second enqueue while one waits coalesces into it, and the
    job reads the latest state when it runs. A row claimed by a worker that died is re-run after
    ``job_stuck_after_seconds`` (at-least-once); handlers are idempotent.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "uq_jobs_pending_key",
            "job_key",
            unique=True,
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_jobs_state_run_at", "state", "priority", "run_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    job_key: Mapped[str] = mapped_column(String(300))
    args: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    """pending → running → done | dead (after max attempts); running → pending on retry."""
    priority: Mapped[int] = mapped_column(Integer, default=100)
    """Lower runs first: the zero-stock push lane uses 0."""
    run_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Cursor(Base):
    """Where polling of one stream of one source has got to; advanced only with the page it covers."""

    __tablename__ = "cursors"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    stream: Mapped[str] = mapped_column(String(60), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Source(Base):
    """A source instance: a shop of a platform, a warehouse, an ERP, or a named manual source.

    Its ``name`` is what views and rules call it (``wms``, ``douyin``, ``manual_franchise_12``): the part
    before the first ``_`` names its kind in the semantic dictionary and arbitration rules.
    """

    __tablename__ = "sources"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    platform: Mapped[str] = mapped_column(String(40))
    trust: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """0–100; None = the semantic dictionary's default for the platform."""
    tolerance_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tolerance_percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    base_url: Mapped[str] = mapped_column(String(500), default="")
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """Encrypted at rest (Fernet, key from ZHONGSHU_SECRET_KEY); never returned by the API."""
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    listings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    """sku → platform ids (item id, sku id, inventory item id, location…)."""
    default_location: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ObservationRow(Base):
    """One source's claim about one cube cell at one time, as mapped from a raw event."""

    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_cell", "sku", "source", "stock_type", "location", "observed_at"),
        UniqueConstraint("raw_event_id", "rule_id", "rule_version", "sku", "location", "stock_type", "field",
                         name="uq_observations_origin"),  # fmt: skip
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(String(64))
    stock_type: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(BigInteger)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raw_event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rule_id: Mapped[str] = mapped_column(String(120), default="")
    rule_version: Mapped[str] = mapped_column(String(60), default="")
    field: Mapped[str] = mapped_column(String(120), default="")
    canonical: Mapped[bool] = mapped_column(Boolean, default=True)
    """False for a source-specific claim (Douyin ``sellable``) kept as said; its canonical parts are rows too."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DecisionRow(Base):
    """An arbitration decision with its inputs, the rule and version, and what was done about it."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_status", "status", "id"), Index("ix_decisions_cell", "sku", "stock_type"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    """Deterministic (cell + triggering observation), so a replay never decides twice."""
    sku: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(String(64))
    stock_type: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    """settled | quarantine | no_change"""
    value: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    current_value: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    chosen_source: Mapped[str] = mapped_column(String(100), default="")
    rule_id: Mapped[str] = mapped_column(String(100))
    rule_version: Mapped[str] = mapped_column(String(60))
    stage: Mapped[str] = mapped_column(String(60), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[list[Any]] = mapped_column(Json, default=list)
    status: Mapped[str] = mapped_column(String(20), default="done")
    """done | pending (quarantined, waiting for a person) | approved | rejected"""
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    movement_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ViewValue(Base):
    """One evaluation of a view for a sku, with every input it read (lineage)."""

    __tablename__ = "view_values"
    __table_args__ = (Index("ix_view_values_view_sku", "view", "sku", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    view: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(40))
    sku: Mapped[str] = mapped_column(String(128))
    value: Mapped[str] = mapped_column(String(60))
    """Decimal as text: formulas may divide."""
    inputs: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

# Security and outbound-webhook tables live in their own modules; importing them registers them on Base.
from hub.storage import models_outbound as _models_outbound, models_security as _models_security  # noqa: E402, F401


from hub.storage import models_vouchers as _models_vouchers  # noqa: E402,F401  (registers the voucher tables)
from hub.storage import models_sync as _models_sync  # noqa: E402,F401  (registers the sync tables)
from hub.storage import models_warehouse as _models_warehouse  # noqa: E402,F401  (registers the warehouse tables)
