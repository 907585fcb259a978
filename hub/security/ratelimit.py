"""Inbound limits for ``/webhooks/*``: a token bucket per source (429 + Retry-After) and an early body-size
refusal (413) from Content-Length, before any byte of an oversize body is read.

The buckets live in the process: with N API processes a source may get up to N × the rate. That is the
point of it — shedding a flood before it reaches the database — not an exact quota.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from hub.inbox import record_refusal
from hub.settings import Settings

MAX_INBOUND_BODY = 1024 * 1024
WEBHOOK_PREFIX = "/webhooks/"


class RateLimited(Exception):
    def __init__(self, source: str, retry_after: float) -> None:
        super().__init__(f"source {source!r} is over its rate limit; retry in {retry_after:.1f}s")
        self.source = source
        self.retry_after = retry_after


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = field(default_factory=time.monotonic)

    def take(self, now: float | None = None) -> float:
        """0 when a token was taken; else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class InboundLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, source: str) -> None:
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) > 10_000:  # unknown names must not grow memory without bound
                self._buckets.clear()
            bucket = self._buckets[source] = TokenBucket(self.rate, float(self.burst))
        wait = bucket.take()
        if wait > 0:
            raise RateLimited(source, wait)


_LIMITERS: dict[tuple[float, int], InboundLimiter] = {}


def limiter_for(settings: Settings) -> InboundLimiter:
    key = (settings.inbound_rate_per_second, settings.inbound_burst)
    if key not in _LIMITERS:
        _LIMITERS[key] = InboundLimiter(*key)
    return _LIMITERS[key]


async def check_inbound_rate(source: str, settings: Settings) -> None:
    """Raise :class:`RateLimited` when ``source`` is over its limit (the middleware turns it into 429)."""
    limiter_for(settings).check(source)


def _problem(
    status: int, title: str, detail: str, headers: list[tuple[bytes, bytes]] = ()
) -> tuple[dict[str, Any], bytes]:  # type: ignore[assignment]
    body = json.dumps({"type": "about:blank", "status": status, "title": title, "detail": detail}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    return start, body


class InboundLimitMiddleware:
    """ASGI middleware for ``/webhooks/{source}/…``: 413 on a declared oversize body, 429 over the rate."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(WEBHOOK_PREFIX):
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        source = path[len(WEBHOOK_PREFIX) :].split("/", 1)[0] or "-"
        hub = getattr(scope["app"].state, "hub", None)
        if length is not None and length.isdigit() and int(length) > MAX_INBOUND_BODY:
            reason = f"body of {int(length)} bytes exceeds the {MAX_INBOUND_BODY}-byte limit"
            if hub is not None:  # recorded as refused (headers only), never processed
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())}
                await record_refusal(hub.sessionmaker, source=source, reason=reason, headers=headers)
            await _send(send, *_problem(413, "payload too large", reason))
            return
        if hub is not None:
            try:
                await check_inbound_rate(source, hub.settings)
            except RateLimited as exc:
                seconds = str(max(1, math.ceil(exc.retry_after))).encode()
                await _send(send, *_problem(429, "too many requests", str(exc), [(b"retry-after", seconds)]))
                return
        await self.app(scope, receive, send)


async def _send(send: Any, start: dict[str, Any], body: bytes) -> None:
    await send(start)
    await send({"type": "http.response.body", "body": body})
