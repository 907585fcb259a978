"""A push the platform refused lands in the dead-letter list; an operator retries it from the console."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from connectors.shopify.sandbox import create_app
from connectors.testing import run_sandbox
from tests.e2e.console.conftest import login_page, shot

SECRET, TOKEN = "shpss_console", "shpat_console"


def _until(check: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.1)


def test_a_dead_lettered_push_is_retried_from_the_console(browser: Any, server: Any, admin_api: httpx.Client) -> None:
    name, sku = f"shopify_{uuid.uuid4().hex[:6]}", f"P-{uuid.uuid4().hex[:8]}"
    with run_sandbox(create_app(app_key="k", app_secret=SECRET, access_token=TOKEN, skus={sku: 0})) as url:
        shop = httpx.Client(base_url=url, timeout=10)
        row = shop.get("/_sandbox/stock").json()["stock"][sku]
        listing = {"inventory_item_id": row["inventory_item_id"], "location_id": row["location_id"]}
        assert admin_api.post("/api/v1/sources", json={"name": name, "platform": "shopify", "base_url": url,
                                                       "default_location": "WH", "listings": {sku: listing},
                                                       "settings": {"poll": False}}).status_code == 201
        admin_api.put(f"/api/v1/sources/{name}/credentials",
                      json={"credentials": {"app_key": "k", "app_secret": SECRET, "access_token": TOKEN}})
        # the platform refuses the write (a 422 validation error is permanent: no blind retries)
        shop.post("/_sandbox/faults", json={"force_error": {"kind": "invalid", "count": 1}})
        r = admin_api.post("/api/v1/movements", json={"movements": [{"key": uuid.uuid4().hex, "sku": sku, "qty": 6,
                                                                     "from": "supplier", "to": "WH/free",
                                                                     "kind": "receive"}]})  # fmt: skip
        assert r.status_code == 201, r.text
        dead = _until(lambda: admin_api.get("/api/v1/pushes", params={"sku": sku, "status": "dead"}).json())
        push_id = dead[0]["id"]
        assert "validation" in dead[0]["response"]

        page = login_page(browser, server, "operator")
        page.goto("/console/sync")
        row_el = page.locator(f"#dead-pushes tr#push-{push_id}")
        assert "validation" in row_el.inner_text()
        shot(page, "sync-pushes")
        row_el.locator("button.retry").click()
        page.locator(f"tr#push-{push_id}.ok").wait_for()
        _until(lambda: shop.get("/_sandbox/stock").json()["stock"][sku]["available"] == 6)
        ok = admin_api.get("/api/v1/pushes", params={"sku": sku}).json()[0]
        assert ok["status"] == "ok" and ok["target"] == 6 and ok["caused_by"] == f"push:{push_id}"
        page.context.close()
        admin_api.patch(f"/api/v1/sources/{name}", json={"enabled": False})
        shop.close()
