"""Gatekeeping a platform sandbox needs besides signatures: a rate gate and a replay cache.

Generic (no platform wire format here); the JD and Douyin sandboxes use both::

    gate = RateGate(rate=10.0, burst=20.0, clock=time.time)
    if not gate.allow(app_key): ...                 # answer the platform's rate-limit code
    replays = ReplayCache(window=600.0, clock=time.time)
    cached = replays.get(sign)                      # a replayed signed write gets its first answer
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["RateGate", "ReplayCache"]


class RateGate:
    """Token bucket per caller key, on an injected clock; ``allow`` answers without waiting."""

    def __init__(self, *, rate: float, burst: float, clock: Callable[[], float]) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate} burst={burst}")
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        with self._lock:
            now = self.clock()
            tokens, stamp = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + max(0.0, now - stamp) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1, now)
            return True


class ReplayCache:
    """Signatures already honoured inside the timestamp window, with the answer they got.

    A replayed signed write gets the first answer back and changes nothing: the platform
    cannot tell a replay from a retry, so it must not apply either twice.
    """

    def __init__(self, *, window: float, clock: Callable[[], float]) -> None:
        self.window, self.clock = window, clock
        self._seen: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, signature: str) -> Any | None:
        with self._lock:
            self._expire()
            hit = self._seen.get(signature)
            return hit[1] if hit else None

    def put(self, signature: str, answer: Any) -> None:
        with self._lock:
            self._seen[signature] = (self.clock(), answer)

    def _expire(self) -> None:
        floor = self.clock() - 2 * self.window
        for key in [k for k, (at, _) in self._seen.items() if at < floor]:
            del self._seen[key]
