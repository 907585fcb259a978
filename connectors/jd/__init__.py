"""JD (京东 JOS/宙斯) connector: signed /routerjson client, order polling, stock read/write, sandbox."""

from __future__ import annotations

from .connector import JdConnector

__all__ = ["JdConnector"]
