"""Kingdee K/3 Cloud sandbox (see app.py for endpoints)."""

from __future__ import annotations

from connectors.kingdee.sandbox.app import create_app

__all__ = ["create_app"]
