"""Sandbox WMS speaking the Qimen protocol: ``create_app(app_key=..., app_secret=..., hub_url=...)``."""

from __future__ import annotations

from .app import GATEWAY_PATH, SandboxWms, create_app

__all__ = ["GATEWAY_PATH", "SandboxWms", "create_app"]
