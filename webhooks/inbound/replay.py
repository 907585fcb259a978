"""Replay protection for inbound webhooks.

The durable guard is the hub inbox's unique index on (source, platform event id): a replay inside
the signature window inserts nothing. ``ReplayGuard`` is the seam in front of it; the in-memory LRU
here is only a fast pre-check within one process (it forgets on restart and is not shared between
processes), so never rely on it alone.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["InMemoryReplayGuard", "ReplayGuard"]


@runtime_checkable
class ReplayGuard(Protocol):
    async def seen(self, source: str, event_id: str) -> bool:
        """True when (source, event_id) was seen before; otherwise record it and return False."""
        ...


class InMemoryReplayGuard:
    """Bounded LRU of recently seen (source, event_id) pairs, with an optional time to live.

    Check-and-record runs without awaiting, so it is atomic within one asyncio loop.
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def seen(self, source: str, event_id: str) -> bool:
        key = (source, event_id)
        now = self._clock()
        recorded = self._entries.get(key)
        if recorded is not None and (self._ttl is None or now - recorded < self._ttl):
            self._entries.move_to_end(key)
            return True
        self._entries[key] = now
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return False
