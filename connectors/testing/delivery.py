"""The HTTP client sandboxes deliver their pushes with: one per event loop, kept open.

A platform delivers webhooks from long-lived connection pools; a sandbox that built a client per push
would spend more CPU making TLS contexts and TCP connections than the hub spends on the push, and on a
shared 2-core machine that is CPU taken from what is being measured.
"""

from __future__ import annotations

import asyncio

import httpx

from connectors.base import async_client

_CLIENTS: dict[int, httpx.AsyncClient] = {}


def delivery_client() -> httpx.AsyncClient:
    """The running loop's delivery client (per-request timeouts are passed to ``post``)."""
    key = id(asyncio.get_running_loop())
    client = _CLIENTS.get(key)
    if client is None or client.is_closed:
        client = _CLIENTS[key] = async_client(timeout=10.0, limits=httpx.Limits(max_connections=64))
    return client


async def close_delivery_client() -> None:
    """Close the running loop's delivery client (a sandbox's shutdown hook)."""
    client = _CLIENTS.pop(id(asyncio.get_running_loop()), None)
    if client is not None:
        await client.aclose()
