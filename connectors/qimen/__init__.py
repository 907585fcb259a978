"""Qimen (奇门) ERP↔WMS connector: ``QimenConnector(config)``; sandbox in ``connectors.qimen.sandbox``."""

from __future__ import annotations

from .connector import InventoryRow, OrderAccepted, QimenConnector

__all__ = ["InventoryRow", "OrderAccepted", "QimenConnector"]
