"""The Douyin sandbox refuses what Douyin refuses, dedupes idempotent_id, and the PyPI ``doudian``
SDK, pointed at it, gets tokens and sets stock unchanged but for the host."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connectors.douyin.sandbox import create_app
from connectors.douyin.signing import canonical_json, sign
from connectors.douyin.verifier import DyRequestRefused, verify_api_request
from connectors.testing import run_sandbox
from tests.connectors.support import Clock, clocked_sandbox

KEY, SECRET, TOKEN, SHOP = "7000000000000000001", "dy-secret", "dy-token", "4463798"
T0 = 1_800_000_000


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture(scope="module")
def url(clock: Clock) -> Iterator[str]:
    with clocked_sandbox(create_app, clock, app_key=KEY, app_secret=SECRET, access_token=TOKEN) as base_url:
        yield base_url


def call(
    url: str,
    path: str,
    params: dict[str, Any],
    *,
    secret: str = SECRET,
    token: str | None = TOKEN,
    ts: object = T0,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    pj = canonical_json(params)
    method = path.strip("/").replace("/", ".")
    query = {
        "app_key": KEY,
        "method": method,
        "timestamp": str(ts),
        "v": "2",
        "sign_method": "hmac-sha256",
        "sign": sign(KEY, secret, method, pj, ts),
    }
    if token:
        query["access_token"] = token
    response = httpx.post(
        f"{url}{path}",
        params=query,
        content=(pj if body is None else body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return response.json()  # type: ignore[no-any-return]


def test_signed_call_answers_new_and_legacy_envelopes(url: str) -> None:
    legacy = call(url, "/sku/stockNum", {"code": "SKU-A"})
    assert legacy["code"] == 10000 and legacy["err_no"] == 0 and legacy["data"]["stock_num"] == 100
    assert {"stock_num", "prehold_stock_num"} <= set(legacy["data"]) and legacy["log_id"]
    new = call(url, "/sku/stockNum", {"code": "SKU-A"}, headers={"x-open-no-old-err-code": "1"})
    assert new["code"] == 10000 and "err_no" not in new


def test_wrong_secret_and_tampered_body_fail_signature_check(url: str) -> None:
    wrong = call(url, "/sku/stockNum", {"code": "SKU-A"}, secret="nope")
    assert (wrong["code"], wrong["sub_code"]) == (40003, "isv.signature-invalid")
    tampered = call(
        url,
        "/sku/syncStock",
        {"code": "SKU-B", "stock_num": 1},
        body=canonical_json({"code": "SKU-B", "stock_num": 999}),
    )
    assert tampered["sub_code"] == "isv.signature-invalid"
    assert httpx.get(f"{url}/_sandbox/stock").json()["stock"]["SKU-B"]["stock_num"] == 50


def test_stale_timestamp_and_token_problems_use_douyins_codes(url: str) -> None:
    assert call(url, "/sku/stockNum", {"code": "SKU-A"}, ts=T0 - 601)["sub_code"] == "isv.timestamp-invalid"
    assert call(url, "/sku/stockNum", {"code": "SKU-A"}, ts="not-a-time")["sub_code"] == "isv.timestamp-format-error"
    assert call(url, "/sku/stockNum", {"code": "SKU-A"}, token=None)["sub_code"] == "isv.access-token-missing"
    assert call(url, "/sku/stockNum", {"code": "SKU-A"}, token="stolen")["sub_code"] == "isv.access-token-no-existed"
    # the string timestamp form (doudian PyPI SDK) is read as Beijing time
    beijing = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(T0 + 8 * 3600))
    assert call(url, "/sku/stockNum", {"code": "SKU-A"}, ts=beijing)["code"] == 10000


def test_incremental_sync_needs_and_honours_idempotent_id(url: str, clock: Clock) -> None:
    missing = call(url, "/sku/syncStock", {"code": "SKU-C", "stock_num": 5, "incremental": True})
    assert missing["code"] == 40002
    ok = call(url, "/sku/syncStock", {"code": "SKU-C", "stock_num": 5, "incremental": True, "idempotent_id": "k1"})
    assert ok["code"] == 10000
    replay = call(url, "/sku/syncStock", {"code": "SKU-C", "stock_num": 5, "incremental": True, "idempotent_id": "k1"})
    drop = lambda body: {k: v for k, v in body.items() if k != "log_id"}  # noqa: E731
    assert drop(replay) == drop(ok)  # the very same signed request: first answer, nothing applied
    clock.t += 1
    again = call(
        url,
        "/sku/syncStock",
        {"code": "SKU-C", "stock_num": 5, "incremental": True, "idempotent_id": "k1"},
        ts=int(clock.t),
    )
    assert again["sub_code"] == "isv.idempotent-id-existed"
    assert httpx.get(f"{url}/_sandbox/stock").json()["stock"]["SKU-C"]["stock_num"] == 5
    clock.t = T0


def test_presale_order_keeps_units_in_sellable_and_counts_them_as_prehold(url: str) -> None:
    before = call(url, "/sku/stockNum", {"code": "SKU-B"})["data"]
    httpx.post(f"{url}/_sandbox/events", json={"type": "order", "sku": "SKU-B", "qty": 4, "presale": True})
    after = call(url, "/sku/stockNum", {"code": "SKU-B"})["data"]
    assert after["stock_num"] == before["stock_num"]
    assert after["prehold_stock_num"] == before["prehold_stock_num"] + 4


def test_rate_limit_answers_60000(clock: Clock) -> None:
    app = create_app(
        app_key=KEY, app_secret=SECRET, access_token=TOKEN, clock=clock, rate_limit_per_second=0.001, rate_limit_burst=1
    )
    with run_sandbox(app) as base:
        answers = [call(base, "/sku/stockNum", {"code": "SKU-A"})["code"] for _ in range(2)]
        log = httpx.get(f"{base}/_sandbox/log").json()["requests"]
    assert answers == [10000, 60000] and [e["status"] for e in log] == [200, 429]


def test_hub_url_must_be_loopback() -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        create_app(app_key=KEY, app_secret=SECRET, hub_url="http://example.com/hook")


def test_request_verifier_refusals() -> None:
    pj = canonical_json({"a": 1})
    query = {
        "app_key": KEY,
        "method": "sku.detail",
        "timestamp": str(T0),
        "sign_method": "hmac-sha256",
        "sign": sign(KEY, SECRET, "sku.detail", pj, T0),
    }
    verify_api_request(query, pj, app_key=KEY, app_secret=SECRET, method="sku.detail", now=T0)
    bad = {
        "isv.signature-invalid": (query, '{"a":2}', T0),
        "isv.timestamp-invalid": (query, pj, T0 + 3600),
        "isv.app-id-invalid": ({**query, "app_key": "1"}, pj, T0),
        "isv.signature-missing": ({k: v for k, v in query.items() if k != "sign"}, pj, T0),
    }
    for sub_code, (q, body, now) in bad.items():
        with pytest.raises(DyRequestRefused) as info:
            verify_api_request(q, body, app_key=KEY, app_secret=SECRET, method="sku.detail", now=now)
        assert info.value.code.sub_code == sub_code


# -- the PyPI ``doudian`` SDK (0.6), unchanged but for the host ---------------------------------------
@pytest.fixture
def beijing_time() -> Iterator[None]:
    """The SDK stamps requests with naive local time; Douyin reads it as Beijing time."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_official_doudian_sdk_creates_a_token_and_sets_stock(beijing_time: None) -> None:
    from doudian import AppType, DouDian

    with run_sandbox(create_app(app_key=KEY, app_secret=SECRET)) as base:

        class Sandboxed(DouDian):
            """Only the host changes: the SDK hard-codes its gateway in __init__."""

            _gate_way = property(lambda self: base, lambda self, value: None)

        sdk = Sandboxed(KEY, SECRET, AppType.SELF, shop_id=SHOP)  # __init__ calls /token/create
        assert sdk._token and sdk._token["shop_id"] == int(SHOP) and sdk._token["access_token"]
        assert sdk.request("/sku/syncStock", {"code": "SKU-A", "stock_num": 42, "incremental": False})["err_no"] == 0
        assert sdk.request("/sku/stockNum", {"code": "SKU-A"})["data"]["stock_num"] == 42

        stranger = Sandboxed(KEY, "not-the-secret", AppType.SELF, shop_id=SHOP)
        assert stranger._token is None  # token/create refused
        stranger._token = dict(sdk._token)  # even with a valid token, every call is refused
        refused = stranger.request("/sku/syncStock", {"code": "SKU-A", "stock_num": 1})
        assert (refused["code"], refused["sub_code"]) == (40003, "isv.signature-invalid")
        assert httpx.get(f"{base}/_sandbox/stock").json()["stock"]["SKU-A"]["stock_num"] == 42
        paths = [e["path"] for e in httpx.get(f"{base}/_sandbox/log").json()["requests"]]
    assert paths[0] == "/token/create" and "/sku/syncStock" in paths
