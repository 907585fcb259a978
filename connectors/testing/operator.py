"""Operator state shared by every sandbox: the request log and the fault knobs (``/_sandbox/...``).

A sandbox records each request (``RequestLog.add``) and asks ``await Faults.play()`` (the
configured latency, then ``Faults.next()``) which fault, if any, to play on it. Fault kinds are
generic names each sandbox answers in its platform's own wire format: ``"rate_limit"``,
``"auth"``, ``"server"``, ``"not_found"``, ``"invalid"``.

``POST /_sandbox/faults`` body (every field optional)::

    {"latency_ms": 0, "error_rate": 0.0, "force_429": 2,
     "force_error": {"kind": "server", "count": 1}, "seed": 7}
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAULT_KINDS", "Faults", "RequestLog"]

FAULT_KINDS = ("rate_limit", "auth", "server", "not_found", "invalid")
SECRET_HEADERS = frozenset({"authorization", "cookie", "x-shopify-access-token", "access-token", "x-api-key"})


class RequestLog:
    """Every request the sandbox received, with arrival time (unix seconds) and the status it got."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, *, method: str, path: str, query: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            entry = {
                "seq": len(self._entries) + 1, "at": time.time(), "method": method, "path": path,
                "query": query, "body": body.decode("utf-8", "replace"), "status": None,
                "headers": {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()},
            }
            self._entries.append(entry)
            return entry

    def set_status(self, seq: int, status: int) -> None:
        with self._lock:
            self._entries[seq - 1]["status"] = status

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since]


@dataclass
class Faults:
    """Knobs for fault and load tests; ``next()`` is called once per platform API request."""

    latency_ms: int = 0
    error_rate: float = 0.0
    force_429: int = 0
    force_kind: str | None = None
    force_count: int = 0
    lose_answers: int = 0
    """The next N platform requests are carried out, then answered 503 as a gateway timing out after the
    platform committed: the caller cannot tell it was applied (only an idempotency key saves a retry)."""
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def configure(self, body: dict[str, Any]) -> None:
        """Apply a ``/_sandbox/faults`` body; raises ``ValueError`` naming a bad field."""
        if not isinstance(body, dict):
            raise ValueError("faults body must be a JSON object")
        latency = int(body.get("latency_ms", self.latency_ms))
        rate = float(body.get("error_rate", self.error_rate))
        if not 0.0 <= rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        force_429 = int(body.get("force_429", self.force_429))
        lose = int(body.get("lose_answers", self.lose_answers))
        if lose < 0:
            raise ValueError("lose_answers must be >= 0")
        kind, count = self.force_kind, self.force_count
        forced = body.get("force_error")
        if forced is not None:
            kind = forced.get("kind") if isinstance(forced, dict) else None
            if kind not in FAULT_KINDS:
                raise ValueError(f"force_error.kind must be one of {', '.join(FAULT_KINDS)}")
            count = int(forced.get("count", 1))
        seed = int(body["seed"]) if "seed" in body else None
        self.latency_ms, self.error_rate, self.force_429 = latency, rate, force_429
        self.force_kind, self.force_count = kind, count
        self.lose_answers = lose
        if seed is not None:
            self.seed = seed
            self._rng.seed(seed)

    async def play(self) -> str | None:
        """Wait ``latency_ms``, then ``next()``: what a platform request calls before it is answered."""
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        return self.next()

    def next(self) -> str | None:
        """The fault kind to play on this request, or None (``"lost_answer"``: carry it out, answer 503)."""
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return "lost_answer"
        if self.force_429 > 0:
            self.force_429 -= 1
            return "rate_limit"
        if self.force_kind and self.force_count > 0:
            self.force_count -= 1
            return self.force_kind
        if self.error_rate and self._rng.random() < self.error_rate:
            return "server"
        return None

    def state(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "error_rate": self.error_rate, "force_429": self.force_429,
                "force_error": {"kind": self.force_kind, "count": self.force_count},
                "lose_answers": self.lose_answers, "seed": self.seed}
