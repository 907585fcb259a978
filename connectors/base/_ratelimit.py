"""A per-shop async token bucket, configured from the platform's documented limits.

Every client of one shop shares one bucket (``TokenBucket.for_shop``), so two connector objects
for the same shop cannot together exceed the limit. A ``RateLimited`` answer drains the bucket
for ``retry_after`` seconds (``pause``), slowing every caller, not only the one that was refused.

Settings read by ``for_shop``::

    rate_limit_per_second: 2     # refill rate (Shopify Standard REST: 2/s)
    rate_limit_burst: 40         # bucket size  (Shopify Standard REST: 40)
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["TokenBucket"]


class TokenBucket:
    """``await bucket.acquire()`` before each request; at most ``burst`` at once, ``rate`` per second after."""

    _shops: ClassVar[dict[tuple[str, float, float], TokenBucket]] = {}

    def __init__(self, *, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate} burst={burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()
        # one lock per event loop: an asyncio.Lock binds to the first loop that waits on it, and one
        # process may run several loops (the hub's and a test's) that share this shop's bucket
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    @classmethod
    def for_shop(cls, shop: str, settings: Mapping[str, Any], *, rate: float, burst: float) -> TokenBucket:
        """The shared bucket of ``shop``; ``settings`` override the platform defaults ``rate``/``burst``."""
        rate = float(settings.get("rate_limit_per_second", rate))
        burst = float(settings.get("rate_limit_burst", burst))
        key = (shop, rate, burst)
        if key not in cls._shops:
            cls._shops[key] = cls(rate=rate, burst=burst)
        return cls._shops[key]

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are available and take them."""
        cost = min(cost, self.burst)
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:
            while True:
                self._refill()
                if self._tokens >= cost:
                    self._tokens -= cost
                    return
                await asyncio.sleep((cost - self._tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        """Empty the bucket so the next token comes ``seconds`` from now (after a 429 / THROTTLED)."""
        self._refill()
        self._tokens = min(self._tokens, -seconds * self.rate + 1)
