"""Shopify's two rate limits: the REST leaky bucket and the GraphQL cost bucket."""

from __future__ import annotations

import time
from typing import Any


class LeakyBucket:
    """REST: each call adds 1, the bucket leaks ``rate``/s; a full bucket answers 429."""

    def __init__(self, *, size: int, rate: float) -> None:
        self.size, self.rate = size, rate
        self.level = 0.0
        self._stamp = time.monotonic()

    def _leak(self) -> None:
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self) -> bool:
        self._leak()
        if self.level + 1 > self.size:
            return False
        self.level += 1
        return True

    def header(self) -> str:
        """``X-Shopify-Shop-Api-Call-Limit`` value, e.g. ``32/40``."""
        return f"{int(round(self.level))}/{self.size}"


class CostBucket:
    """GraphQL: calculated query cost against ``maximum`` points restoring ``restore`` points/s."""

    def __init__(self, *, maximum: float, restore: float) -> None:
        self.maximum, self.restore = maximum, restore
        self.available = maximum
        self._stamp = time.monotonic()

    def _restore(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self._stamp) * self.restore)
        self._stamp = now

    def take(self, cost: float) -> bool:
        self._restore()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def extensions(self, requested: float, actual: float | None) -> dict[str, Any]:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": {"maximumAvailable": self.maximum,
                                            "currentlyAvailable": int(self.available),
                                            "restoreRate": self.restore}}}
