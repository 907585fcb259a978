"""Taobao/Tmall TOP sandbox: ``create_app(app_key=..., app_secret=..., access_token=...)``."""

from __future__ import annotations

from .app import DEFAULT_CATALOGUE, create_app

__all__ = ["DEFAULT_CATALOGUE", "create_app"]
