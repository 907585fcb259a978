"""Shopify connector: Admin API client, webhook verifier, OAuth install flow and sandbox."""

from __future__ import annotations

from .connector import ShopifyConnector

__all__ = ["ShopifyConnector"]
