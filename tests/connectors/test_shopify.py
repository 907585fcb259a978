"""The Shopify connector passes the acceptance kit against its sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import InstanceConfig, hmac_sha256_base64
from connectors.shopify import ShopifyConnector
from connectors.testing.acceptance import ConnectorAcceptanceSuite

SECRET = "shpss_kit_secret"
TOKEN = "shpat_kit_token"


class TestShopifyAcceptance(ConnectorAcceptanceSuite):
    connector_class = ShopifyConnector
    sandbox_kwargs = {"app_key": "kit-key", "app_secret": SECRET, "access_token": TOKEN, "rest_bucket": 1000}

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return InstanceConfig(
            name="shopify-kit",
            platform="shopify",
            base_url=base_url,
            credentials={"app_key": "kit-key", "app_secret": SECRET, "access_token": TOKEN},
            settings={"shop_domain": "zhongshu-sandbox.myshopify.com"},
            listings={sku: {"inventory_item_id": row["inventory_item_id"], "location_id": row["location_id"]}
                      for sku, row in stock.items()},
        )

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        return {**headers, "x-shopify-hmac-sha256": hmac_sha256_base64(config.credentials["app_secret"], body)}


def test_shopify_offers_compare_and_set_and_deltas_for_race_safe_sync() -> None:
    from connectors.base import Capability

    caps = ShopifyConnector.capabilities
    assert {Capability.PUSH, Capability.WRITE_STOCK_CAS, Capability.WRITE_STOCK_DELTA, Capability.READ_STOCK} <= caps
    assert ShopifyConnector.mapping_dir == "shopify"
