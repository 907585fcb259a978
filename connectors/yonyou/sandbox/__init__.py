"""YonBIP (用友) sandbox (see app.py for endpoints)."""

from __future__ import annotations

from connectors.yonyou.sandbox.app import create_app

__all__ = ["create_app"]
