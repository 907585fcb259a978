"""The one way connectors, sandboxes and benches make an HTTP client: httpx's API over aiohttp's wire.

httpx is the API every connector is written against (auth hooks, ``Response``, timeouts, errors). Its own
transport (httpcore over anyio) costs 560 µs of CPU per request on this machine, and over 1 ms when 16
requests share a pool, because the pool walks every connection per request; the aiohttp transport of
``httpx-aiohttp`` costs 250-330 µs for the same requests (``python -m bench.http_cost``). A hub pushing
to several shops spends most of its worker time in HTTP clients, so the transport matters.
"""

from __future__ import annotations

from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["async_client"]


def async_client(*, limits: httpx.Limits | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """``httpx.AsyncClient(**kwargs)`` on the aiohttp transport (``limits``: its connection pool)."""
    transport = AiohttpTransport(limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=20))
    return httpx.AsyncClient(transport=transport, **kwargs)
