"""Taobao/Tmall connector: TOP client (md5 / hmac / hmac-sha256 signing, session refresh), TMC
message consume + confirm, trades by modified window, stock read/write, and a TOP sandbox."""

from __future__ import annotations

from .connector import TMC_TOPICS, TaobaoConnector, TaobaoListing

__all__ = ["TMC_TOPICS", "TaobaoConnector", "TaobaoListing"]
