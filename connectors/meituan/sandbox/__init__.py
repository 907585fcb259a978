"""A local Meituan 闪购 store speaking the waimai open-platform wire format, for tests, ``make run`` and bench.

::

    app = create_app(app_key="6000", app_secret="s3cret", hub_url="http://127.0.0.1:8000/webhooks/meituan-demo")

``app_key`` is Meituan's ``app_id``. Gateway: ``GET /api/v1/retail/get``, ``POST /api/v1/retail/sku/stock``,
``GET /api/v1/order/list``, all checking ``app_id``/``timestamp``/``sig`` as Meituan does. Orders and
stock changes made through ``POST /_sandbox/events`` are pushed to ``hub_url`` as signed forms
(order push, then a ``food_data`` stock push with ``stock`` and ``pending_outbound``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from litestar import Litestar

from connectors.testing.delivery import close_delivery_client
from connectors.testing.gate import RateGate
from connectors.testing.operator_routes import operator_routes

from ._app import (
    Sandbox,
    check_target,
    gateway,
    sandbox_events,
    sandbox_settings,
    sandbox_settings_read,
)
from ._signing import meituan_sig
from ._store import Item, Store

__all__ = ["Sandbox", "create_app", "meituan_sig"]

DEFAULT_SKUS = ("SKU-A", "SKU-B", "SKU-C")


def create_app(
    *,
    app_key: str,
    app_secret: str,
    access_token: str | None = None,
    hub_url: str | None = None,
    app_poi_code: str = "MT-POI-1",
    skus: Mapping[str, int] | Sequence[str] = DEFAULT_SKUS,
    initial_stock: int = 100,
    rate_per_second: float = 50.0,
    burst: float = 50.0,
    timestamp_window: float = 600.0,
) -> Litestar:
    """Build the sandbox. ``skus`` maps SKU -> stock or lists SKUs starting at ``initial_stock``;
    each SKU is its own ``app_food_code`` and ``sku_id``. ``access_token`` is accepted and unused
    (Meituan signs; there is no token), so every sandbox takes the same arguments."""
    stock = dict(skus) if isinstance(skus, Mapping) else {sku: initial_stock for sku in skus}
    store = Store(app_poi_code, {sku: Item(sku, sku, int(qty)) for sku, qty in stock.items()})
    bucket = RateGate(rate=rate_per_second, burst=burst, clock=time.monotonic)
    sandbox = Sandbox(app_id=app_key, app_secret=app_secret, hub_url=check_target(hub_url) if hub_url else None,
                      store=store, window=timestamp_window, bucket=bucket)
    operator = operator_routes(sandbox.log, sandbox.faults, pushes=sandbox.pushes, stock=store.view, problem=True)
    app = Litestar(route_handlers=[gateway, sandbox_events, *operator, sandbox_settings, sandbox_settings_read],
                   debug=False, on_shutdown=[close_delivery_client])
    app.state.sandbox = sandbox
    return app
