"""The JD order poll: modified-time windows, keyset paging, restart-safe cursor (pure).

JD cannot push, so orders are read with ``jingdong.pop.order.search`` by modified time. Offset
paging over a live window loses orders: when an order on an earlier page is modified mid-read it
leaves the window and every later order slides up one place, past the page boundary. So pages are
keyed instead: each page starts at the modified second of the last order read (``from``), the
orders already read at that second are skipped by key, and only when one second holds more than a
page of orders do we page by number inside it. ``connectors.base.PollCursor`` fixes the
high-water mark before the first read and carries the overlap window across restarts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .signing import format_timestamp, parse_timestamp

MAX_WINDOW = timedelta(days=30) - timedelta(minutes=1)  # JD: start..end at most a month


@dataclass(frozen=True, slots=True)
class PageToken:
    """Where the next page of the open window starts."""

    start: str  # JD time string
    page: int = 1
    skip: tuple[str, ...] = ()  # keys already read at ``start``

    def dumps(self) -> str:
        return json.dumps({"from": self.start, "page": self.page, "skip": list(self.skip)}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> PageToken:
        try:
            data = json.loads(text)
            return cls(str(data["from"]), int(data.get("page", 1)), tuple(data.get("skip", ())))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a JD page token: {text[:80]!r}") from exc


def order_key(order: dict[str, Any]) -> str:
    """Dedupe key of one order version: id, modified time and state (JD times have 1 s resolution,
    so a cancel in the same second as the creation still makes a new version)."""
    return f"jd-order:{order['orderId']}@{order['modified']}#{order.get('orderState', '')}"


def next_token(token: PageToken, orders: list[dict[str, Any]], page_size: int) -> PageToken | None:
    """The token after reading ``orders`` with ``token``; None once the window is exhausted."""
    if len(orders) < page_size:
        return None
    last = str(orders[-1]["modified"])
    if parse_timestamp(last) == parse_timestamp(token.start):
        # a whole page inside one second: page by number within it
        return PageToken(token.start, token.page + 1, token.skip + tuple(order_key(o) for o in orders))
    at_last = tuple(order_key(o) for o in orders if parse_timestamp(str(o["modified"])) == parse_timestamp(last))
    return PageToken(last, 1, at_last)


def first_token(since: datetime) -> PageToken:
    return PageToken(format_timestamp(since))


def window_end(since: datetime | None, now: datetime) -> datetime:
    """The high-water mark for a new window: now, or a month after ``since`` when far behind."""
    if since is not None and now - since > MAX_WINDOW:
        return since + MAX_WINDOW
    return now
