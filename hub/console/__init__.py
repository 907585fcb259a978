"""The ops console, served by the hub at ``/console``: server-rendered pages over the hub's own services.

Register with ``Litestar(route_handlers=[..., console_router()])``.
"""

from __future__ import annotations

from hub.console.routes import console_router

__all__ = ["console_router"]
