"""The small value objects that cross the connector boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

__all__ = ["Page", "PushAck", "PushedEvent", "WriteResult"]


@dataclass(frozen=True, slots=True)
class PushedEvent:
    """One event from a platform, pushed (webhook) or polled.

    ``event_id`` is the platform's id, stable across redeliveries, the hub's inbox dedupe key.
    ``payload`` is the parsed body; the hub keeps the raw bytes itself.

    ``PushedEvent(event_id="b54557e4-...", topic="orders/create", occurred_at=dt, payload={...},
    source="demo.myshopify.com")``
    """

    event_id: str
    topic: str
    payload: Any
    occurred_at: datetime | None = None
    source: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)


class PushAck(NamedTuple):
    """What the platform expects as the answer to its push: ``(status, body, content_type)``."""

    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Page:
    """One page of polled events and the opaque cursor to store once the page is durable.

    ``has_more`` says whether polling again right away is useful; ``next_cursor`` is always the
    cursor to save (it may equal the input cursor when nothing changed).
    """

    events: tuple[PushedEvent, ...]
    next_cursor: str | None
    has_more: bool = False


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of a stock write: the quantity now held by the platform, and before if known.

    ``quantity`` is None when the platform's answer does not say (Douyin answers a delta with ``data: {}``);
    reading it back would spend the shop's rate limit on a figure the hub already knows."""

    sku: str
    quantity: int | None
    previous: int | None = None
    applied: bool = True
    reference: str | None = None
