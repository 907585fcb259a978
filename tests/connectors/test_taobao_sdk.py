"""PyPI ``topsdk`` (the official taobao-sdk-python ``top.api`` code, repackaged) against the sandbox.

The SDK is used unchanged but for the host: ``RestApi(domain, port)``. It signs md5 with an epoch-
millisecond timestamp, puts system parameters in the query string and business parameters in the
form body. ``topsdk`` ships only the 淘宝联盟 request classes, so the request classes below are
written exactly as the official generator writes them (``Created by auto_sdk``: attributes named
after the API parameters, ``getapiname``); ``TopAuthTokenRefreshRequest`` is the SDK's own.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", SyntaxWarning)  # the SDK compares ints with "is not"
    top = pytest.importorskip("top")
    from top.api.base import RestApi, TopException

from connectors.taobao.testkit import ACCESS_TOKEN, APP_KEY, APP_SECRET, RunningSandbox, sandbox


class ItemQuantityUpdateRequest(RestApi):
    def __init__(self, domain: str = "gw.api.taobao.com", port: int = 80) -> None:
        RestApi.__init__(self, domain, port)
        self.num_iid = None
        self.outer_id = None
        self.quantity = None
        self.sku_id = None
        self.type = None

    def getapiname(self) -> str:
        return "taobao.item.quantity.update"


class ItemSkuGetRequest(RestApi):
    def __init__(self, domain: str = "gw.api.taobao.com", port: int = 80) -> None:
        RestApi.__init__(self, domain, port)
        self.fields = None
        self.num_iid = None
        self.sku_id = None

    def getapiname(self) -> str:
        return "taobao.item.sku.get"


class TmcMessagesConsumeRequest(RestApi):
    def __init__(self, domain: str = "gw.api.taobao.com", port: int = 80) -> None:
        RestApi.__init__(self, domain, port)
        self.group_name = None
        self.quantity = None

    def getapiname(self) -> str:
        return "taobao.tmc.messages.consume"


class TmcMessagesConfirmRequest(RestApi):
    def __init__(self, domain: str = "gw.api.taobao.com", port: int = 80) -> None:
        RestApi.__init__(self, domain, port)
        self.f_message_ids = None
        self.group_name = None
        self.s_message_ids = None

    def getapiname(self) -> str:
        return "taobao.tmc.messages.confirm"


@pytest.fixture
def box() -> Iterator[RunningSandbox]:
    with sandbox() as running:
        yield running


def _host_port(box: RunningSandbox) -> tuple[str, int]:
    host, port = box.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _request(cls: type, box: RunningSandbox, secret: str = APP_SECRET) -> RestApi:
    request = cls(*_host_port(box))
    request.set_app_info(top.appinfo(APP_KEY, secret))
    return request


def test_sdk_sets_stock_and_reads_it_back(box: RunningSandbox) -> None:
    update = _request(ItemQuantityUpdateRequest, box)
    update.num_iid, update.sku_id, update.quantity, update.type = 520000000001, 4200000000001, 12, 1
    answer = update.getResponse(ACCESS_TOKEN)
    assert answer["item_quantity_update_response"]["item"]["skus"]["sku"][0]["quantity"] == 12
    read = _request(ItemSkuGetRequest, box)
    read.fields, read.sku_id = "sku_id,quantity,with_hold_quantity", 4200000000001
    sku = read.getResponse(ACCESS_TOKEN)["item_sku_get_response"]["sku"]
    assert sku == {"sku_id": 4200000000001, "quantity": 12, "with_hold_quantity": 0}
    entry = box.operator("/_sandbox/log")["requests"][0]
    assert "sign_method=md5" in entry["query"] and "quantity=12" in entry["body"]
    timestamp = dict(p.split("=", 1) for p in entry["query"].split("&"))["timestamp"]
    assert timestamp.isdigit() and len(timestamp) == 13  # the Python SDK's epoch-millis form


def test_sdk_consumes_and_confirms_tmc(box: RunningSandbox) -> None:
    order = box.operator("/_sandbox/events", {"type": "order", "sku": "SKU-B", "qty": 1})
    consume = _request(TmcMessagesConsumeRequest, box)
    consume.quantity = 50
    messages = consume.getResponse()["tmc_messages_consume_response"]["messages"]["tmc_message"]
    assert [m["topic"] for m in messages] == ["taobao_trade_TradeCreate"]
    assert f'"tid":{order["tid"]}' in messages[0]["content"]
    confirm = _request(TmcMessagesConfirmRequest, box)
    confirm.s_message_ids = str(messages[0]["id"])
    assert confirm.getResponse()["tmc_messages_confirm_response"]["is_success"] is True
    assert box.operator("/_sandbox/tmc")["confirmed"] == [messages[0]["id"]]


def test_sdk_with_wrong_secret_is_refused_with_tops_own_error(box: RunningSandbox) -> None:
    update = _request(ItemQuantityUpdateRequest, box, secret="not-the-secret")
    update.num_iid, update.sku_id, update.quantity = 520000000001, 4200000000001, 1
    with pytest.raises(TopException) as caught:
        update.getResponse(ACCESS_TOKEN)
    assert (caught.value.errorcode, caught.value.message) == (25, "Invalid signature")
    assert box.operator("/_sandbox/stock")["stock"]["SKU-A"]["quantity"] == 100


def test_sdk_token_refresh_request(box: RunningSandbox) -> None:
    from connectors.taobao.testkit import REFRESH_TOKEN

    refresh = _request(top.api.TopAuthTokenRefreshRequest, box)
    refresh.refresh_token = REFRESH_TOKEN
    result = refresh.getResponse()["top_auth_token_refresh_response"]["token_result"]
    assert '"access_token":"6201' in result and '"taobao_user_nick":"zhongshu-demo"' in result
    refresh.refresh_token = "6202forged"
    with pytest.raises(TopException) as caught:
        refresh.getResponse()
    assert caught.value.errorcode == 15
