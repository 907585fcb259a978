"""Sandbox Kuaidi100 (快递100) tracking service: ``create_app(app_key=..., hub_url=...)``."""

from __future__ import annotations

from .app import SandboxKuaidi100, create_app

__all__ = ["SandboxKuaidi100", "create_app"]
