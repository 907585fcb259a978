"""Polling cursor with a high-water mark and an overlap window (pure: the hub persists it).

Why: a record edited while we page through a window must not be missed, and clocks and
timestamp resolution are coarse. So each window's upper bound (``until``) is fixed *before* the
first read, the next window starts ``overlap`` earlier than where this one ended, and the repeats
that overlap brings back are dropped by key (``id@updated_at``, so a real edit is not dropped).

Use::

    cursor = PollCursor.loads(saved)                      # None -> start at the beginning
    cursor = cursor.open(now=datetime.now(UTC))           # fixes the high-water mark once
    since, until = cursor.bounds(overlap)                 # query updated_at in [since, until]
    ... fetch one page using cursor.page_token ...
    keep, cursor = cursor.advance(items, next_token=token, overlap=overlap)
    save(cursor.dumps())                                  # only after the page is durable

``items`` are ``(key, updated_at)`` pairs; ``keep`` are the keys not seen before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

__all__ = ["PollCursor"]


@dataclass(frozen=True, slots=True)
class PollCursor:
    """Where one poll stream stands; ``dumps``/``loads`` give the string the hub stores."""

    since: datetime | None = None
    until: datetime | None = None
    page_token: str | None = None
    seen: tuple[tuple[str, str], ...] = ()  # (key, updated_at iso) of items inside the overlap

    @property
    def in_window(self) -> bool:
        return self.until is not None

    def open(self, *, now: datetime) -> PollCursor:
        """Fix the high-water mark before reading, unless a window is already open."""
        return self if self.in_window else replace(self, until=now, page_token=None)

    def bounds(self, overlap: timedelta) -> tuple[datetime | None, datetime]:
        """``(updated_at_min, updated_at_max)`` for the open window."""
        if self.until is None:
            raise ValueError("open() the cursor before asking for its bounds")
        return (self.since - overlap if self.since else None), self.until

    def advance(
        self, items: Iterable[tuple[str, datetime]], *, next_token: str | None, overlap: timedelta
    ) -> tuple[list[str], PollCursor]:
        """Drop repeats, remember what the next overlap will bring back, move the cursor on."""
        if self.until is None:
            raise ValueError("open() the cursor before advancing it")
        seen = dict(self.seen)
        keep: list[str] = []
        for key, updated_at in items:
            if key in seen:
                continue
            keep.append(key)
            if updated_at >= self.until - overlap:
                seen[key] = updated_at.isoformat()
        if next_token is not None:
            return keep, replace(self, page_token=next_token, seen=tuple(sorted(seen.items())))
        floor = self.until - overlap
        kept = tuple(sorted((k, v) for k, v in seen.items() if datetime.fromisoformat(v) >= floor))
        return keep, PollCursor(since=self.until, until=None, page_token=None, seen=kept)

    def dumps(self) -> str:
        return json.dumps(
            {
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "page_token": self.page_token,
                "seen": [list(pair) for pair in self.seen],
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str | None) -> PollCursor:
        """Parse a stored cursor; ``None`` or ``""`` is the start of the stream."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(
                since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
                until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
                page_token=data.get("page_token"),
                seen=tuple((str(k), str(v)) for k, v in data.get("seen", [])),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a poll cursor: {text[:80]!r}") from exc
