"""Sandbox fidelity beyond the kit: OAuth install flow, leaky bucket, GraphQL cost, bad operator input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlparse

import httpx
import pytest

from connectors.base import AuthError, InstanceConfig, VerificationError
from connectors.shopify import ShopifyConnector
from connectors.shopify.constants import API_VERSION, H_CALL_LIMIT
from connectors.shopify.oauth import SCOPES, authorization_url, exchange_code, verify_callback
from connectors.shopify.sandbox import create_app
from connectors.testing import run_sandbox, run_sandbox_process

KEY, SECRET, TOKEN = "oauth-key", "shpss_oauth", "shpat_oauth"


@pytest.fixture(scope="module")
def small_shop() -> Iterator[str]:
    app = create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN, rest_bucket=3, rest_leak=5,
                     graphql_max=10, graphql_restore=100, retry_after=0.2)
    with run_sandbox(app) as url:
        yield url


def config(url: str, **settings: object) -> InstanceConfig:
    stock = httpx.get(f"{url}/_sandbox/stock").json()["stock"]
    return InstanceConfig(
        name=f"shopify-{time.monotonic_ns()}", platform="shopify", base_url=url,
        credentials={"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN},
        settings={"retry_attempts": 6, "retry_initial": 0.01, "retry_maximum": 0.05, "retry_max_retry_after": 0.2,
                  **settings},
        listings={sku: {"inventory_item_id": r["inventory_item_id"], "location_id": r["location_id"]}
                  for sku, r in stock.items()},
    )


async def test_oauth_install_flow_yields_the_shops_access_token(small_shop: str) -> None:
    cfg = config(small_shop)
    url = authorization_url(cfg, redirect_uri="http://127.0.0.1:9/cb", scopes=SCOPES, state="nonce-1")
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302
    query = dict(parse_qsl(urlparse(answer.headers["location"]).query))
    assert query["state"] == "nonce-1"
    verify_callback(query, secret=SECRET, now=time.time())
    assert await exchange_code(cfg, query["code"]) == TOKEN
    with pytest.raises(AuthError):  # a code works once
        await exchange_code(cfg, query["code"])
    with pytest.raises(VerificationError):
        verify_callback({**query, "code": "forged"}, secret=SECRET, now=time.time())


def test_rest_leaky_bucket_answers_429_with_retry_after_and_call_limit() -> None:
    app = create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN, rest_bucket=3, rest_leak=0.01)
    with run_sandbox(app) as url:
        headers = {"X-Shopify-Access-Token": TOKEN}
        answers = [httpx.get(f"{url}/admin/api/{API_VERSION}/locations.json", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[2].headers[H_CALL_LIMIT] == "3/3"
    assert float(answers[3].headers["Retry-After"]) > 0
    assert "Exceeded" in answers[3].json()["errors"]


async def test_connector_waits_out_the_rest_bucket_and_graphql_throttle(small_shop: str) -> None:
    connector = ShopifyConnector(config(small_shop, rate_limit_per_second=100, rate_limit_burst=100))
    try:
        mark = len(httpx.get(f"{small_shop}/_sandbox/log").json()["requests"])
        for _ in range(5):  # bucket of 3: some answers are 429, all calls succeed in the end
            assert (await connector.read_stock(["SKU-A"]))["SKU-A"] >= 0
        for n in range(3):  # cost bucket of 10 points, a mutation costs 10: THROTTLED, then retried
            written = await connector.write_stock("SKU-C", 50 + n, idempotency_key=f"k{n}-{time.time()}")
            assert written.quantity == 50 + n
    finally:
        await connector.aclose()
    log = httpx.get(f"{small_shop}/_sandbox/log", params={"since": mark}).json()["requests"]
    assert any(e["status"] == 429 for e in log), "the leaky bucket never overflowed"
    assert sum(e["path"].endswith("graphql.json") for e in log) > 3, "GraphQL throttling never happened"


def test_operator_endpoints_name_bad_input() -> None:
    with run_sandbox(create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN)) as url:
        check_bad_input(url)


def check_bad_input(small_shop: str) -> None:
    bad = httpx.post(f"{small_shop}/_sandbox/events", json={"type": "order", "sku": "NOPE"})
    assert bad.status_code == 400 and "NOPE" in bad.text
    assert httpx.post(f"{small_shop}/_sandbox/events", content=b"{oops").status_code == 400
    assert httpx.post(f"{small_shop}/_sandbox/faults", json={"error_rate": 3}).status_code == 400
    far = httpx.post(f"{small_shop}/_sandbox/settings", json={"webhook_target": "http://10.0.0.1/x"})
    assert far.status_code == 400 and "127.0.0.1" in far.text
    refused = httpx.get(f"{small_shop}/admin/api/{API_VERSION}/orders.json", params={"page_info": "x", "status": "any"},
                        headers={"X-Shopify-Access-Token": TOKEN})
    assert refused.status_code == 400


def test_sandbox_runs_in_a_subprocess() -> None:
    kwargs = {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN, "skus": {"SKU-Z": 9}}
    with run_sandbox_process("connectors.shopify.sandbox:create_app", kwargs) as url:
        assert httpx.get(f"{url}/_sandbox/stock").json()["stock"]["SKU-Z"]["available"] == 9


def test_a_failed_webhook_delivery_is_retried_byte_for_byte_until_answered_2xx() -> None:
    """Shopify retries a delivery answered non-2xx (8 times over 4 h; here compressed), same ids and body."""
    from litestar import Litestar, Request, post
    from litestar.exceptions import HTTPException

    got: list[tuple[dict[str, str], bytes]] = []

    @post("/hook", status_code=200)
    async def hook(request: Request) -> dict[str, bool]:  # type: ignore[type-arg]
        got.append((dict(request.headers), await request.body()))
        if len(got) < 3:
            raise HTTPException(status_code=503, detail="busy")
        return {"ok": True}

    with run_sandbox(Litestar([hook])) as receiver:
        app = create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN, skus={"R-1": 5},
                         hub_url=f"{receiver}/hook", webhook_retry_delays=(0.05, 0.05, 0.05, 0.05))
        with run_sandbox(app) as url:
            first = httpx.post(f"{url}/_sandbox/events", json={"type": "stock", "sku": "R-1", "available": 4}).json()
            assert first["pushes"][0]["status"] == 503
            deadline = time.monotonic() + 10
            while len(got) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)  # a 2xx ends the retries: no fourth delivery
            pushes = httpx.get(f"{url}/_sandbox/log").json()["pushes"]
    assert len(got) == 3
    assert len({h["x-shopify-webhook-id"] for h, _ in got}) == 1 and len({b for _, b in got}) == 1
    assert len({h["x-shopify-triggered-at"] for h, _ in got}) == 1
    assert pushes[-1]["status"] == 200 and pushes[-1]["attempts"] == 3
