"""Douyin shop (抖店) connector: signed client, message push verifier, stock sync, sandbox."""

from __future__ import annotations

from .connector import DouyinConnector

__all__ = ["DouyinConnector"]
