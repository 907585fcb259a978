"""The SSRF guard and HTTP client deliveries use, built from settings (``ZHONGSHU_WEBHOOK_ALLOW``).

``RESOLVER`` is the DNS resolver the guard asks; tests replace it with a stub table (they must never reach a
real non-loopback address, even to prove a refusal). None means the operating system's resolver.
"""

from __future__ import annotations

import httpx

from hub.settings import Settings
from webhooks.outbound.ssrf import Resolver, SSRFGuard, SSRFPolicy, guarded_client

RESOLVER: Resolver | None = None


def set_resolver(resolver: Resolver | None) -> None:
    global RESOLVER
    RESOLVER = resolver


def guard(settings: Settings) -> SSRFGuard:
    return SSRFGuard(SSRFPolicy.from_allow_list(settings.webhook_allow), resolver=RESOLVER)


def client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.webhook_timeout_seconds, connect=min(5.0, settings.webhook_timeout_seconds))
    return guarded_client(guard(settings), timeout=timeout)
