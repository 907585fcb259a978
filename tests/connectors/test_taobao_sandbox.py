"""The TOP sandbox refuses what TOP refuses, in TOP's words; the client maps those answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.base import AuthError, NotFound, NotSupported, RateLimited, RetryPolicy, ValidationError
from connectors.taobao import TaobaoConnector
from connectors.taobao.client import build_request
from connectors.taobao.signing import sign_params
from connectors.taobao.testkit import ACCESS_TOKEN, APP_KEY, APP_SECRET, RunningSandbox, sandbox

FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0.0, max_retry_after=0.05)
SKU_A = {"num_iid": 520000000001, "sku_id": 4200000000001}


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with sandbox() as running:
        yield running


def _post(box: RunningSandbox, data: dict[str, str], path: str = "/router/rest") -> dict[str, Any]:
    response = httpx.post(box.url + path, data=data, timeout=10)
    assert response.status_code == 200  # TOP answers errors with 200 + error_response
    return response.json()


def _signed(method: str, params: dict[str, Any], **kw: Any) -> dict[str, str]:
    return build_request(method, params, app_key=kw.pop("app_key", APP_KEY), app_secret=kw.pop("secret", APP_SECRET),
                         session=kw.pop("session", ACCESS_TOKEN), **kw)


def _update(quantity: int, mode: int = 1, **kw: Any) -> dict[str, str]:
    return _signed("taobao.item.quantity.update", {**SKU_A, "quantity": quantity, "type": mode}, **kw)


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
@pytest.mark.parametrize("form", ["datetime", "millis"])
def test_every_sign_method_and_timestamp_form_is_accepted(box: RunningSandbox, sign_method: str, form: str) -> None:
    body = _post(box, _update(33, sign_method=sign_method, timestamp_form=form))
    sku = body["item_quantity_update_response"]["item"]["skus"]["sku"][0]
    assert sku == {"sku_id": 4200000000001, "quantity": 33, "modified": sku["modified"]}
    assert box.operator("/_sandbox/stock")["stock"]["SKU-A"]["quantity"] == 33


def test_query_string_system_params_and_top_router_path(box: RunningSandbox) -> None:
    data = _signed("taobao.item.sku.get", {"fields": "sku_id,quantity", "sku_id": 4200000000001})
    system = {k: data.pop(k) for k in list(data) if k not in ("fields", "sku_id")}
    response = httpx.post(box.url + "/top/router/rest", params=system, data=data)
    assert response.json()["item_sku_get_response"]["sku"] == {"sku_id": 4200000000001, "quantity": 100}
    got = httpx.get(box.url + "/router/rest", params={**system, **data}).json()
    assert got["item_sku_get_response"]["sku"]["quantity"] == 100


def test_tampered_request_is_refused_with_code_25(box: RunningSandbox) -> None:
    data = _update(5)
    data["quantity"] = "500"
    error = _post(box, data)["error_response"]
    assert (error["code"], error["msg"]) == (25, "Invalid signature")
    assert error["request_id"]
    assert box.operator("/_sandbox/stock")["stock"]["SKU-A"]["quantity"] == 100
    lower = _update(5)
    lower["sign"] = lower["sign"].lower()
    assert _post(box, lower)["error_response"]["code"] == 25
    assert _post(box, _update(5, secret="wrong"))["error_response"]["code"] == 25


def test_platform_errors_in_order(box: RunningSandbox) -> None:
    assert _post(box, {k: v for k, v in _update(1).items() if k != "method"})["error_response"]["code"] == 21
    assert _post(box, _update(1, app_key="99999999"))["error_response"]["code"] == 29
    assert _post(box, {k: v for k, v in _update(1).items() if k != "sign"})["error_response"]["code"] == 24
    unknown = _signed("taobao.nothing.here", {})
    assert _post(box, unknown)["error_response"]["code"] == 22
    missing = _signed("taobao.item.quantity.update", {"num_iid": 520000000001, "type": 1})
    error = _post(box, missing)["error_response"]
    assert (error["code"], error["msg"]) == (40, "Missing required arguments:quantity")
    bad = _signed("taobao.item.quantity.update", {**SKU_A, "quantity": "many"})
    assert _post(box, bad)["error_response"]["code"] == 41
    nosession = _signed("taobao.item.sku.get", {"fields": "quantity", "sku_id": 1}, session=None)
    assert _post(box, nosession)["error_response"]["code"] == 26
    foreign = _signed("taobao.item.sku.get", {"fields": "quantity", "sku_id": 1}, session="6201not-a-session")
    error = _post(box, foreign)["error_response"]
    assert (error["code"], error["msg"], error["sub_code"]) == (27, "Invalid session", "invalid-sessionkey")
    gone = _signed("taobao.item.sku.get", {"fields": "quantity", "sku_id": 1})
    assert _post(box, gone)["error_response"]["sub_code"] == "isv.item-sku-not-exist"


@pytest.mark.parametrize("form", ["datetime", "millis"])
def test_expired_and_future_timestamps_are_refused(box: RunningSandbox, form: str) -> None:
    now = datetime.now(UTC)
    for moment in (now - timedelta(minutes=11), now + timedelta(minutes=11)):
        error = _post(box, _update(7, timestamp_form=form, now=moment))["error_response"]
        assert (error["code"], error["msg"]) == (31, "Invalid timestamp")
    assert box.operator("/_sandbox/stock")["stock"]["SKU-A"]["quantity"] == 100


def test_replayed_request_is_refused_once_outside_the_window(box: RunningSandbox) -> None:
    captured = _update(2, mode=2)
    assert _post(box, captured)["item_quantity_update_response"]["item"]["skus"]["sku"][0]["quantity"] == 102
    # TOP has no nonce: inside the ±10 min window a replay is executed again (type=2 applies twice) ...
    assert _post(box, captured)["item_quantity_update_response"]["item"]["skus"]["sku"][0]["quantity"] == 104
    box.operator("/_sandbox/clock", {"advance_seconds": 601})
    # ... after it the captured request is dead
    assert _post(box, captured)["error_response"]["code"] == 31
    assert box.operator("/_sandbox/stock")["stock"]["SKU-A"]["quantity"] == 104


def test_xml_is_the_default_format(box: RunningSandbox) -> None:
    data = _signed("taobao.item.sku.get", {"fields": "sku_id,quantity", "sku_id": 4200000000001})
    del data["format"]
    data["sign"] = sign_params(data, APP_SECRET)
    response = httpx.post(box.url + "/router/rest", data=data)
    assert response.headers["content-type"].startswith("text/xml")
    assert "<item_sku_get_response><sku><sku_id>4200000000001</sku_id><quantity>100</quantity>" in response.text


def test_rate_limit_answers_code_7_with_ban_seconds(box: RunningSandbox) -> None:
    box.operator("/_sandbox/faults", {"force_429": 1, "ban_seconds": 3})
    error = _post(box, _update(1))["error_response"]
    assert error["code"] == 7 and error["msg"] == "App Call Limited"
    assert error["sub_code"].startswith("accesscontrol.")
    assert error["sub_msg"] == "This ban will last for 3 more seconds"


def test_call_limit_per_second_bans_the_app() -> None:
    with sandbox(calls_per_second=2, ban_seconds=5) as box:
        box.operator("/_sandbox/clock", {"freeze": True})  # all calls fall in one sandbox second
        codes = [_post(box, _update(1)).get("error_response", {}).get("code") for _ in range(3)]
        assert codes[:2] == [None, None] and codes[2] == 7
        assert "ban will last for" in _post(box, _update(1))["error_response"]["sub_msg"]
        box.operator("/_sandbox/clock", {"advance_seconds": 6})
        assert "item_quantity_update_response" in _post(box, _update(1))


async def test_client_maps_code_7_to_rate_limited_with_retry_after(box: RunningSandbox) -> None:
    box.operator("/_sandbox/faults", {"force_429": 5, "ban_seconds": 9})
    retry = RetryPolicy(attempts=1, initial=0.01, maximum=0.02, max_retry_after=0.05)
    async with TaobaoConnector(box.config(), retry=retry) as connector:
        with pytest.raises(RateLimited) as caught:
            await connector.read_stock(["SKU-A"])
    assert caught.value.retry_after == 9.0 and caught.value.code == "7"


async def test_client_retries_code_7_then_succeeds(box: RunningSandbox) -> None:
    box.operator("/_sandbox/faults", {"force_429": 2, "ban_seconds": 1})
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        assert await connector.read_stock(["SKU-A"]) == {"SKU-A": 100}
    refused = [e for e in box.operator("/_sandbox/log")["requests"] if e.get("top_code") == 7]
    assert len(refused) == 2


async def test_wrong_secret_is_a_permanent_auth_error(box: RunningSandbox) -> None:
    async with TaobaoConnector(box.config(secret="not-the-secret"), retry=FAST) as connector:
        with pytest.raises(AuthError) as caught:
            await connector.write_stock("SKU-A", 5, idempotency_key="k1")
    assert caught.value.code == "25"
    assert len(box.operator("/_sandbox/log")["requests"]) == 1  # not retried


async def test_isp_errors_are_retried_and_isv_errors_are_not(box: RunningSandbox) -> None:
    box.operator("/_sandbox/faults", {"force_error": {"kind": "server", "count": 1}})
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        assert (await connector.write_stock("SKU-B", 9, idempotency_key="w1")).quantity == 9
        cfg = box.config()
        broken = TaobaoConnector(type(cfg)(**{**cfg.__dict__, "listings": {"SKU-X": {"num_iid": 1}}}), retry=FAST)
        with pytest.raises(NotFound):
            await broken.read_stock(["SKU-X"])
        await broken.aclose()
        with pytest.raises(NotFound):
            await connector.read_stock(["SKU-UNLISTED"])
        with pytest.raises(NotSupported):
            await connector.write_stock("SKU-A", 5, compare_to=100, idempotency_key="cas")
        with pytest.raises(ValidationError):
            await connector.write_stock("SKU-A", -1, idempotency_key="neg")


async def test_session_is_refreshed_before_expiry_and_on_code_27() -> None:
    with sandbox(session_ttl=300) as box:
        seen: list[str] = []

        async def keep(session: Any) -> None:
            seen.append(session.access_token)

        soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
        cfg = box.config(token_refresh_margin=600)
        cfg = type(cfg)(**{**cfg.__dict__, "credentials": {**cfg.credentials, "expires_at": soon}})
        async with TaobaoConnector(cfg, retry=FAST, on_session=keep) as connector:
            assert await connector.read_stock(["SKU-A"]) == {"SKU-A": 100}
            assert len(seen) == 1 and seen[0] != ACCESS_TOKEN  # refreshed before the call, not after a failure
            assert not [e for e in box.operator("/_sandbox/log")["requests"] if e.get("top_code") == 27]
            # the sandbox's clock runs past the new session's expiry: TOP says 27, the client refreshes once
            connector.client.session = type(connector.client.session)(
                access_token=seen[0], refresh_token=connector.client.session.refresh_token, expires_at=None)
            box.operator("/_sandbox/clock", {"advance_seconds": 301})
            assert (await connector.write_stock("SKU-A", 11, idempotency_key="after-expiry")).quantity == 11
            assert len(seen) == 2
            expired = [e for e in box.operator("/_sandbox/log")["requests"] if e.get("top_code") == 27]
            assert len(expired) == 1


async def test_full_and_incremental_writes_and_batch_sku_write(box: RunningSandbox) -> None:
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        full = await connector.write_stock("SKU-A", 40, idempotency_key="f1")
        assert (full.quantity, full.previous) == (40, None)
        delta = await connector.write_stock("SKU-A", None, delta=-5, idempotency_key="d1")
        assert (delta.quantity, delta.previous) == (35, 40)
        again = await connector.write_stock("SKU-A", None, delta=-5, idempotency_key="d1")
        assert again == delta  # the same key is not sent twice by this connector
        item_level = await connector.write_stock("SKU-C", None, delta=4, idempotency_key="d2")
        assert item_level.quantity == 34
        with pytest.raises(ValidationError):  # type=2 may not take stock below zero
            await connector.write_stock("SKU-C", None, delta=-1000, idempotency_key="d3")
        assert await connector.write_skus(520000000001, {4200000000001: 3, 4200000000002: -500},
                                          incremental=True) == {4200000000001: 38, 4200000000002: 0}
        assert await connector.read_stock(["SKU-A", "SKU-B", "SKU-C"]) == {"SKU-A": 38, "SKU-B": 0, "SKU-C": 34}
    updates = [e for e in box.operator("/_sandbox/log")["requests"] if e.get("api") == "taobao.item.quantity.update"]
    assert len(updates) == 4


async def test_pay_to_deduct_holds_stock_and_place_to_deduct_takes_it(box: RunningSandbox) -> None:
    held = box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-A", "qty": 3})
    taken = box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-C", "qty": 2})
    stock = box.operator("/_sandbox/stock")["stock"]
    assert (stock["SKU-A"]["quantity"], stock["SKU-A"]["with_hold_quantity"]) == (100, 3)
    assert (stock["SKU-C"]["quantity"], stock["SKU-C"]["with_hold_quantity"]) == (28, 0)
    async with TaobaoConnector(box.config(), retry=FAST) as connector:
        detail = await connector.read_stock_detail(["SKU-A", "SKU-C"])
    assert detail == {"SKU-A": {"quantity": 100, "with_hold_quantity": 3},
                      "SKU-C": {"quantity": 28, "with_hold_quantity": 0}}
    box.operator("/_sandbox/events", {"type": "pay", "tid": held["tid"]})
    box.operator("/_sandbox/events", {"type": "cancel", "tid": taken["tid"]})
    stock = box.operator("/_sandbox/stock")["stock"]
    assert (stock["SKU-A"]["quantity"], stock["SKU-A"]["with_hold_quantity"]) == (97, 0)
    assert stock["SKU-C"]["quantity"] == 30
    too_many = httpx.post(box.url + "/_sandbox/events", json={"type": "order", "sku": "SKU-C", "qty": 31})
    assert too_many.status_code == 409 and "sellable" in too_many.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/_sandbox/events", b"not json", "JSON"),
        ("/_sandbox/events", b"[1]", "object"),
        ("/_sandbox/events", b'{"type":"order"}', "sku"),
        ("/_sandbox/events", b'{"type":"teleport"}', "type"),
        ("/_sandbox/events", b'{"type":"pay"}', "tid"),
        ("/_sandbox/faults", b'{"error_rate": 7}', "error_rate"),
        ("/_sandbox/clock", b"{}", "advance_seconds"),
    ],
)
def test_operator_endpoints_answer_bad_input_with_400(box: RunningSandbox, path: str, body: bytes, needle: str) -> None:
    response = httpx.post(box.url + path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert needle in response.json()["error"]


def test_request_log_records_every_call_with_arrival_time(box: RunningSandbox) -> None:
    _post(box, _update(1))
    _post(box, _update(1, secret="bad"))
    log = box.operator("/_sandbox/log")["requests"]
    assert [e["api"] for e in log] == ["taobao.item.quantity.update"] * 2
    assert log[0]["at"] <= log[1]["at"] and log[1].get("top_code") == 25
