"""Meituan 闪购: a channel described entirely by ``connector.yaml`` (the declarative connector).

Instance config: credentials ``app_id`` and ``app_secret``; settings ``app_poi_code`` (the store)
and ``push_url`` (the callback URL registered with Meituan, which its push signatures cover);
listings ``{sku: {"app_food_code": ..., "sku_id": ...}}`` (both default to the SKU itself).
"""

from __future__ import annotations

from pathlib import Path

from connectors.declarative import connector_from_yaml

__all__ = ["MeituanConnector"]

MeituanConnector = connector_from_yaml(Path(__file__).with_name("connector.yaml"), class_name="MeituanConnector",
                                       module=__name__)
