"""Shopify's own Python library (ShopifyAPI), pointed at the sandbox, works unchanged but for the host.

ShopifyAPI builds ``https://<shop>.myshopify.com/admin/api/<version>`` from a Session; the only
change is the site: ``ShopifyResource.set_site`` to the sandbox's ``http://127.0.0.1:<port>`` URL
after ``activate_session`` has set the ``X-Shopify-Access-Token`` header.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shopify
from pyactiveresource.connection import UnauthorizedAccess

from connectors.shopify.constants import API_VERSION, INVALID_TOKEN
from connectors.shopify.sandbox import create_app
from connectors.testing import run_sandbox

TOKEN = "shpat_official_sdk"


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    app = create_app(app_key="sdk-key", app_secret="shpss_sdk", access_token=TOKEN, skus={"SKU-A": 12, "SKU-B": 3})
    with run_sandbox(app) as url:
        yield url


def activate(sandbox_url: str, token: str) -> None:
    shopify.ShopifyResource.activate_session(shopify.Session("zhongshu-sandbox.myshopify.com", API_VERSION, token))
    shopify.ShopifyResource.set_site(f"{sandbox_url}/admin/api/{API_VERSION}")


@pytest.fixture
def session(sandbox_url: str) -> Iterator[None]:
    activate(sandbox_url, TOKEN)
    yield
    shopify.ShopifyResource.clear_session()


def test_reads_locations_variants_and_inventory_levels(session: None) -> None:
    (location,) = shopify.Location.find()
    product = shopify.Product.find()[0]
    variant = shopify.Variant.find(product.variants[0].id)
    assert variant.sku == "SKU-A"
    (level,) = shopify.InventoryLevel.find(inventory_item_ids=variant.inventory_item_id, location_ids=location.id)
    assert level.available == 12
    item = shopify.InventoryItem.find(variant.inventory_item_id)
    assert item.sku == "SKU-A"


def test_sets_inventory_with_inventory_level_set(session: None, sandbox_url: str) -> None:
    import httpx

    (location,) = shopify.Location.find()
    variant = shopify.Variant.find(shopify.Product.find()[1].variants[0].id)
    level = shopify.InventoryLevel.set(location.id, variant.inventory_item_id, 41)
    assert level.available == 41
    stock = httpx.get(f"{sandbox_url}/_sandbox/stock").json()["stock"]
    assert stock["SKU-B"]["available"] == 41


def test_orders_created_in_the_sandbox_are_listed(session: None, sandbox_url: str) -> None:
    import httpx

    created = httpx.post(f"{sandbox_url}/_sandbox/events", json={"type": "order", "sku": "SKU-A", "quantity": 2})
    order = shopify.Order.find(int(created.json()["record_id"]))
    assert order.line_items[0].sku == "SKU-A" and order.line_items[0].quantity == 2


def test_wrong_token_is_refused_with_shopifys_own_error(sandbox_url: str) -> None:
    activate(sandbox_url, "shpat_wrong")
    try:
        with pytest.raises(UnauthorizedAccess) as info:
            shopify.Location.find()
    finally:
        shopify.ShopifyResource.clear_session()
    assert info.value.code == 401
    assert INVALID_TOKEN in info.value.response.body.decode()
