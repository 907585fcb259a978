"""Sync state: what each channel listing is believed to hold, and every push made to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.models import Base, Id, UTCDateTime, utcnow


class ListingState(Base):
    """Per (source, sku): ``expected`` is what the platform holds once every order it took is imported.

    A push moves it to the target; an order the channel itself took lowers it (the channel already
    decremented), a cancel on the channel raises it. The gap between the platform's real figure and
    ``expected`` is exactly the in-flight orders, which is what makes delta and compare-and-set pushes safe.
    """

    __tablename__ = "listing_state"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    expected: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_target: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_push_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    drift: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Platform figure minus expected at the last reconciliation."""
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Push(Base):
    """One stock write to a channel: target, what was sent, the platform's answer, timings and cause."""

    __tablename__ = "pushes"
    __table_args__ = (Index("ix_pushes_source_sku", "source", "sku", "id"), Index("ix_pushes_status", "status", "id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(128))
    target: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(20))
    """absolute | delta | cas"""
    sent: Mapped[int] = mapped_column(BigInteger)
    """The quantity (absolute, cas) or the delta sent."""
    expected_before: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    platform_after: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    """ok | failed (will retry) | dead (permanent error; in the dead-letter list)"""
    response: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    caused_by: Mapped[str] = mapped_column(String(250), default="")
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the change that caused this push was committed (latency starts here)."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
