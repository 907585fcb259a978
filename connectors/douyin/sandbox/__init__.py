"""The Douyin sandbox: ``create_app(*, app_key, app_secret, access_token=None, hub_url=None, ...)``."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
