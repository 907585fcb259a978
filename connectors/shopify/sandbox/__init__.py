"""A local Shopify that speaks the real Admin API wire format, for tests, ``make run`` and bench.

::

    app = create_app(app_key="k", app_secret="shpss_x", access_token="shpat_x",
                     hub_url="http://127.0.0.1:8000/webhooks/shopify-demo", skus={"SKU-A": 100})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from litestar import Litestar
from litestar.middleware import DefineMiddleware

from connectors.testing.operator_routes import operator_routes

from ._faults import LogMiddleware
from ._oauth import authorize, oauth_access_token
from ._operator import sandbox_events, sandbox_settings
from ._orders import graphql, order, orders
from ._rest import (
    Sandbox,
    guard,
    inventory_item,
    inventory_items,
    inventory_levels,
    inventory_levels_adjust,
    inventory_levels_set,
    location,
    locations,
    product,
    products,
    variant,
)

__all__ = ["Sandbox", "create_app"]

DEFAULT_SKUS = ("SKU-A", "SKU-B", "SKU-C")


WEBHOOK_RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
"""Shopify: 8 retries over 4 hours, exponential backoff — here the same shape in seconds."""

def create_app(
    *,
    app_key: str,
    app_secret: str,
    access_token: str,
    hub_url: str | None = None,
    webhook_target: str | None = None,
    skus: Mapping[str, int] | Sequence[str] = DEFAULT_SKUS,
    initial_stock: int = 100,
    shop_domain: str = "zhongshu-sandbox.myshopify.com",
    rest_bucket: int = 40,
    rest_leak: float = 2.0,
    graphql_max: float = 2000.0,
    graphql_restore: float = 100.0,
    retry_after: float = 2.0,
    webhook_retry_delays: Sequence[float] = WEBHOOK_RETRY_DELAYS,
) -> Litestar:
    """Build the sandbox app. ``hub_url`` (alias ``webhook_target``) receives the signed webhooks
    (loopback only; change it later with ``POST /_sandbox/settings``). ``skus`` maps SKU -> available,
    or lists SKUs that start at ``initial_stock``. Limits default to Shopify's Standard plan.

    A delivery answered with a non-2xx, or not within 5 s (1 s to connect), is retried after each of
    ``webhook_retry_delays`` seconds, byte for byte with the same ids, as Shopify retries 8 times over 4 hours
    with exponential backoff; the default compresses that schedule into about 4 minutes."""
    stock = dict(skus) if isinstance(skus, Mapping) else {sku: initial_stock for sku in skus}
    sandbox = Sandbox(app_key=app_key, app_secret=app_secret, access_token=access_token,
                      hub_url=hub_url or webhook_target,
                      skus=stock, shop_domain=shop_domain, rest_bucket=rest_bucket, rest_leak=rest_leak,
                      graphql_max=graphql_max, graphql_restore=graphql_restore, retry_after=retry_after,
                      webhook_retry_delays=webhook_retry_delays)  # fmt: skip
    app = Litestar(
        route_handlers=[inventory_levels, inventory_levels_set, inventory_levels_adjust, locations, location,
                        products, product, variant, inventory_items, inventory_item, orders, order, graphql,
                        authorize, oauth_access_token, sandbox_events, sandbox_settings,
                        *operator_routes(sandbox.log, sandbox.faults, pushes=sandbox.pushes,
                                         stock=sandbox.shop.stock_view, problem=True)],
        before_request=guard,
        middleware=[DefineMiddleware(LogMiddleware, log=sandbox.log, faults=sandbox.faults,
                                     call_limit=sandbox.rest.header)],
        debug=False,
        on_shutdown=[sandbox.close],
    )
    app.state.sandbox = sandbox
    return app
