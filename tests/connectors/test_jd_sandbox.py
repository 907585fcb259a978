"""The JD sandbox refuses what JD refuses (tampered, expired, replayed, foreign), and the PyPI
``jd-sdk``, pointed at it, works unchanged but for the host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.jd.sandbox import create_app
from connectors.jd.signing import format_timestamp, signed_params
from connectors.jd.verifier import JdRequestRefused, verify_request
from connectors.testing import run_sandbox
from tests.connectors.support import Clock, clocked_sandbox

KEY, SECRET, TOKEN = "jd-key", "jd-secret", "jd-token"
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture(scope="module")
def url(clock: Clock) -> Iterator[str]:
    with clocked_sandbox(create_app, clock, app_key=KEY, app_secret=SECRET, access_token=TOKEN) as base_url:
        yield base_url


def stamp(t: float) -> str:
    return format_timestamp(datetime.fromtimestamp(t, UTC))


def call(
    url: str,
    method: str,
    business: dict[str, Any],
    *,
    secret: str = SECRET,
    token: str = TOKEN,
    t: float = T0,
    key: str = KEY,
) -> dict[str, Any]:
    params = signed_params(
        app_key=key, app_secret=secret, method=method, business=business, access_token=token, timestamp=stamp(t)
    )
    return httpx.post(f"{url}/routerjson", data=params).json()  # type: ignore[no-any-return]


def error_code(body: dict[str, Any]) -> str | None:
    error = body.get("error_response")
    return None if error is None else error["code"]


def test_signed_read_answers_under_the_misspelt_root(url: str) -> None:
    body = call(url, "jingdong.stock.read.findSkuStock", {"skuId": 100001})
    stocks = body["jingdong_stock_read_findSkuStock_responce"]["skuStocks"]
    assert stocks[0]["skuId"] == 100001 and isinstance(stocks[0]["stockNum"], int)


def test_wrong_secret_is_refused_with_code_12_as_a_string(url: str) -> None:
    body = call(url, "jingdong.stock.read.findSkuStock", {"skuId": 100001}, secret="wrong")
    assert body == {"error_response": {"code": "12", "zh_desc": "无效签名", "en_desc": "Invalid signature"}}


def test_tampered_parameter_is_refused(url: str) -> None:
    params = signed_params(
        app_key=KEY,
        app_secret=SECRET,
        method="jingdong.stock.write.updateSkuStock",
        business={"skuId": 100002, "stockNum": 5},
        access_token=TOKEN,
        timestamp=stamp(T0),
    )
    params["360buy_param_json"] = '{"skuId":100002,"stockNum":500}'
    assert error_code(httpx.post(f"{url}/routerjson", data=params).json()) == "12"
    stock = httpx.get(f"{url}/_sandbox/stock").json()["stock"]
    assert stock["SKU-B"]["stockNum"] != 500


def test_expired_and_future_timestamps_are_refused(url: str) -> None:
    for t in (T0 - 601, T0 + 601):
        assert error_code(call(url, "jingdong.stock.read.findSkuStock", {"skuId": 100001}, t=t)) == "11"
    assert error_code(call(url, "jingdong.stock.read.findSkuStock", {"skuId": 100001}, t=T0 - 599)) is None


def test_foreign_app_key_unknown_method_and_bad_token(url: str) -> None:
    assert error_code(call(url, "jingdong.stock.read.findSkuStock", {"skuId": 1}, key="other")) == "21"
    assert error_code(call(url, "jingdong.nope", {})) == "15"
    assert error_code(call(url, "jingdong.stock.read.findSkuStock", {"skuId": 1}, token="stolen")) == "19"


def test_replayed_write_changes_nothing(url: str, clock: Clock) -> None:
    params = signed_params(
        app_key=KEY,
        app_secret=SECRET,
        method="jingdong.stock.write.updateSkuStock",
        business={"skuId": 100001, "stockNum": 40},
        access_token=TOKEN,
        timestamp=stamp(clock.t),
    )
    first = httpx.post(f"{url}/routerjson", data=params).json()
    assert first["jingdong_stock_write_updateSkuStock_responce"]["success"] is True
    order = httpx.post(f"{url}/_sandbox/events", json={"type": "order", "sku": "SKU-A", "qty": 3}).json()
    assert order["record_id"]
    replay = httpx.post(f"{url}/routerjson", data=params).json()
    assert replay == first
    assert httpx.get(f"{url}/_sandbox/stock").json()["stock"]["SKU-A"]["stockNum"] == 37


def test_rate_limit_answers_jds_call_limited_code(clock: Clock) -> None:
    app = create_app(
        app_key=KEY, app_secret=SECRET, access_token=TOKEN, clock=clock, rate_limit_per_second=0.001, rate_limit_burst=2
    )
    with run_sandbox(app) as base:
        codes = [error_code(call(base, "jingdong.stock.read.findSkuStock", {"skuId": 100001})) for _ in range(3)]
        log = httpx.get(f"{base}/_sandbox/log").json()["requests"]
    assert codes == [None, None, "18"]
    assert [e["status"] for e in log] == [200, 200, 429] and all(e["http_status"] == 200 for e in log)


def test_operator_endpoints_validate_their_input(url: str) -> None:
    assert httpx.post(f"{url}/_sandbox/events", json={"type": "order", "sku": "NOPE"}).status_code == 400
    assert httpx.post(f"{url}/_sandbox/events", content=b"{not json").status_code == 400
    assert httpx.post(f"{url}/_sandbox/faults", json={"error_rate": 3}).status_code == 400
    assert httpx.post(f"{url}/_sandbox/events", json={"type": "cancel", "order_id": "x"}).status_code == 400


def test_verifier_refuses_each_way_a_request_can_be_wrong() -> None:
    good = signed_params(
        app_key=KEY, app_secret=SECRET, method="m.x", business={"a": 1}, access_token=TOKEN, timestamp=stamp(T0)
    )
    verify_request(good, app_key=KEY, app_secret=SECRET, now=T0)
    cases = {
        "12": {**good, "360buy_param_json": '{"a":2}'},
        "11": {**good, "timestamp": "yesterday"},
        "21": {**good, "app_key": "other"},
        "9": {k: v for k, v in good.items() if k != "sign"},
    }
    for code, params in cases.items():
        with pytest.raises(JdRequestRefused) as info:
            verify_request(params, app_key=KEY, app_secret=SECRET, now=T0)
        assert info.value.code.code == code
    with pytest.raises(JdRequestRefused) as stale:
        verify_request(good, app_key=KEY, app_secret=SECRET, now=T0 + 3600)
    assert stale.value.code.code == "11"


# -- the official PyPI SDK (jd-sdk 1.1.1), unchanged but for the host --------------------------------
def sdk_host_port(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def test_official_jd_sdk_sets_stock_and_a_wrong_secret_gets_jds_error() -> None:
    import jd
    from jd.api.rest.StockBatchQueryStockRequest import StockBatchQueryStockRequest
    from jd.api.rest.StockUpdateSkuStockRequest import StockUpdateSkuStockRequest

    with run_sandbox(create_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN)) as base:
        host, port = sdk_host_port(base)
        write = StockUpdateSkuStockRequest(host, port)
        write.set_app_info(jd.appinfo(KEY, SECRET))
        write.skuId, write.stockNum = 100002, 21
        assert write.getResponse(TOKEN) == {"jingdong_stock_updateSkuStock_responce": {"code": "0", "success": True}}
        read = StockBatchQueryStockRequest(host, port)
        read.set_app_info(jd.appinfo(KEY, SECRET))
        read.skuIds = "100002"
        answer = read.getResponse(TOKEN)
        assert answer["jingdong_stock_batchQueryStock_responce"]["result"] == [{"skuId": 100002, "stockNum": 21}]

        forged = StockUpdateSkuStockRequest(host, port)
        forged.set_app_info(jd.appinfo(KEY, "not-the-secret"))
        forged.skuId, forged.stockNum = 100002, 99
        assert forged.getResponse(TOKEN)["error_response"]["code"] == "12"
        assert httpx.get(f"{base}/_sandbox/stock").json()["stock"]["SKU-B"]["stockNum"] == 21
        sent = httpx.get(f"{base}/_sandbox/log").json()["requests"][0]
    assert "360buy_param_json" in sent["query"] and json.loads(sent["body"] or "{}") == {}  # SDK sends all in the query
