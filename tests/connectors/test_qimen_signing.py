"""Qimen signing, body codec, message ids and inbound verification: pure functions, fixed vectors."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from connectors.base import VerificationError
from connectors.qimen import codec
from connectors.qimen.messages import MessageError, event_id, parse_order_confirm, parse_stock_changes
from connectors.qimen.signing import format_timestamp, sign, signed_params, system_params
from connectors.qimen.verifier import verify_call

SECRET = "helloworld"
QUERY_BODY = (
    '<?xml version="1.0" encoding="utf-8"?><request><criteriaList><criteria><warehouseCode>WH01</warehouseCode>'
    "<ownerCode>OWNER01</ownerCode><itemCode>SKU-001</itemCode><inventoryType>ZP</inventoryType></criteria>"
    "</criteriaList></request>"
)
QUERY_PARAMS = {"method": "inventory.query", "timestamp": "2024-05-01 10:00:00", "format": "xml",
                "app_key": "12345678", "v": "2.0", "sign_method": "md5", "customerId": "CUST01"}
TOP_PARAMS = {"app_key": "12345678", "format": "json", "method": "taobao.item.quantity.update", "num_iid": "123456",
              "quantity": "100", "session": "test", "sku_id": "998877", "timestamp": "2016-01-01 12:00:00",
              "type": "1", "v": "2.0"}


def test_qimen_signature_covers_sorted_params_and_body() -> None:
    assert sign(QUERY_PARAMS, QUERY_BODY, SECRET) == "623003CDC6697C9831D2ED4A207B15DF"


def test_body_changes_the_signature() -> None:
    assert sign(QUERY_PARAMS, QUERY_BODY.replace("SKU-001", "SKU-002"), SECRET) != "623003CDC6697C9831D2ED4A207B15DF"


@pytest.mark.parametrize(("method", "expected"), [
    ("md5", "4F62B8B47BC297ED5446F29154EFD107"),
    ("hmac", "2434F52461C5577CC96E0B02C6CE597D"),
    ("hmac-sha256", "3EE083B68EE04406BB3DF62989086DF43AE3D55D353A48CEB32153378830E7F7"),
])
def test_without_body_it_is_the_top_signature(method: str, expected: str) -> None:
    assert sign({**TOP_PARAMS, "sign_method": method}, b"", SECRET, method) == expected


def test_sign_and_empty_values_are_left_out() -> None:
    base = sign(QUERY_PARAMS, QUERY_BODY, SECRET)
    assert sign({**QUERY_PARAMS, "sign": "WHATEVER", "session": ""}, QUERY_BODY, SECRET) == base


def test_timestamps_are_gmt8_wall_clock() -> None:
    moment = datetime(2024, 5, 1, 2, 0, 0, tzinfo=timezone.utc)
    assert format_timestamp(moment) == "2024-05-01 10:00:00"


def test_xml_and_json_bodies_decode_to_the_same_dict() -> None:
    document = {"deliveryOrder": {"deliveryOrderCode": "D1", "confirmType": "0"},
                "orderLines": [{"itemCode": "A", "actualQty": "2", "batchs": [{"batchCode": "B1", "actualQty": "2"}]},
                               {"itemCode": "B", "actualQty": "0"}]}
    from_xml = codec.from_xml(codec.to_xml(document))
    from_json = codec.from_json(codec.to_json(document))
    assert from_xml == from_json == document


def test_json_numbers_decode_as_strings_like_xml() -> None:
    document = {"orderLines": [{"itemCode": "A", "actualQty": 2, "done": True, "note": None}]}
    assert codec.from_json(codec.to_json(document)) == codec.from_xml(codec.to_xml(document)) == {
        "orderLines": [{"itemCode": "A", "actualQty": "2", "done": "true", "note": ""}]}


def test_json_containers_accept_bare_lists_and_single_objects() -> None:
    bare = codec.from_json('{"orderLines":[{"itemCode":"A"}]}')
    single = codec.from_json('{"orderLines":{"orderLine":{"itemCode":"A"}}}')
    assert bare == single == {"orderLines": [{"itemCode": "A"}]}


def test_xml_with_doctype_is_refused() -> None:
    evil = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><request><x>&a;</x></request>'
    with pytest.raises(codec.BodyError, match="DOCTYPE"):
        codec.from_xml(evil)


def test_malformed_bodies_raise_body_error() -> None:
    with pytest.raises(codec.BodyError):
        codec.from_xml("<request><unclosed></request>")
    with pytest.raises(codec.BodyError):
        codec.from_json('{"not json')


CONFIRM = {"deliveryOrder": {"deliveryOrderCode": "SO-1", "deliveryOrderId": "WD1", "confirmType": "0",
                             "outBizCode": "WD1-C1", "operateTime": "2024-05-01 10:00:00", "expressCode": "SF123"},
           "orderLines": [{"orderLineNo": "1", "itemCode": "SKU-A", "planQty": "3", "actualQty": "2",
                           "batchCode": "B1", "expireDate": "2025-01-01"}]}


def test_event_id_comes_from_order_code_confirm_type_and_out_biz_code() -> None:
    assert event_id("deliveryorder.confirm", CONFIRM) == "qimen:deliveryorder.confirm:SO-1:0:WD1-C1"
    partial = {**CONFIRM, "deliveryOrder": {**CONFIRM["deliveryOrder"], "confirmType": "1"}}
    assert event_id("taobao.qimen.deliveryorder.confirm", partial) == "qimen:deliveryorder.confirm:SO-1:1:WD1-C1"


def test_confirm_parses_integer_quantities_and_batches() -> None:
    confirm = parse_order_confirm("deliveryorder.confirm", codec.from_xml(codec.to_xml(CONFIRM)))
    line = confirm.lines[0]
    assert (line.item_code, line.plan_qty, line.actual_qty, line.batch_code) == ("SKU-A", 3, 2, "B1")
    assert confirm.is_final and confirm.express_code == "SF123"


def test_confirm_without_quantity_is_refused() -> None:
    broken = {**CONFIRM, "orderLines": [{"itemCode": "SKU-A", "actualQty": "two"}]}
    with pytest.raises(MessageError, match="actualQty"):
        parse_order_confirm("deliveryorder.confirm", broken)


def test_stock_change_needs_out_biz_code() -> None:
    with pytest.raises(MessageError, match="outBizCode"):
        parse_stock_changes({"items": [{"itemCode": "A", "quantity": "-1"}]})
    changes = parse_stock_changes({"warehouseCode": "WH01",
                                   "items": [{"itemCode": "A", "quantity": "-1", "outBizCode": "X1"}]})
    assert changes[0].warehouse_code == "WH01" and changes[0].quantity == -1


def _signed(method: str, document: dict, *, fmt: str = "xml", at: datetime | None = None, secret: str = "s3cret"):
    body = codec.encode(document, fmt)
    params = system_params(method=method, app_key="k1", customer_id="CUST01", now=at or datetime.now(timezone.utc),
                           fmt=fmt)
    return signed_params(params, body, secret), body.encode()


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_verifier_accepts_a_signed_confirm_in_either_format(fmt: str) -> None:
    query, body = _signed("deliveryorder.confirm", CONFIRM, fmt=fmt)
    event = verify_call(query, {}, body, app_key="k1", secret="s3cret", now=time.time(), customer_id="CUST01")
    assert event.event_id == "qimen:deliveryorder.confirm:SO-1:0:WD1-C1"
    assert event.topic == "deliveryorder.confirm" and event.payload["orderLines"][0]["itemCode"] == "SKU-A"


def test_verifier_refuses_tampered_body() -> None:
    query, body = _signed("deliveryorder.confirm", CONFIRM)
    with pytest.raises(VerificationError) as info:
        verify_call(query, {}, body.replace(b">2<", b">3<"), app_key="k1", secret="s3cret", now=time.time())
    assert info.value.status_code == 401


def test_verifier_refuses_tampered_query() -> None:
    query, body = _signed("deliveryorder.confirm", CONFIRM)
    with pytest.raises(VerificationError):
        verify_call({**query, "customerId": "OTHER"}, {}, body, app_key="k1", secret="s3cret", now=time.time())


def test_verifier_refuses_expired_timestamp() -> None:
    query, body = _signed("deliveryorder.confirm", CONFIRM, at=datetime.now(timezone.utc) - timedelta(minutes=11))
    with pytest.raises(VerificationError, match="timestamp"):
        verify_call(query, {}, body, app_key="k1", secret="s3cret", now=time.time())


def test_verifier_refuses_wrong_secret_app_key_and_customer() -> None:
    query, body = _signed("deliveryorder.confirm", CONFIRM)
    with pytest.raises(VerificationError):
        verify_call(query, {}, body, app_key="k1", secret="other", now=time.time())
    with pytest.raises(VerificationError):
        verify_call(query, {}, body, app_key="k2", secret="s3cret", now=time.time())
    with pytest.raises(VerificationError, match="customerId"):
        verify_call(query, {}, body, app_key="k1", secret="s3cret", now=time.time(), customer_id="CUST02")


def test_verifier_refuses_methods_the_erp_does_not_receive() -> None:
    query, body = _signed("deliveryorder.create", CONFIRM)
    with pytest.raises(VerificationError, match="method") as info:
        verify_call(query, {}, body, app_key="k1", secret="s3cret", now=time.time())
    assert info.value.status_code == 400


def test_verifier_signs_header_params_named_in_top_sign_list() -> None:
    body = codec.encode(CONFIRM, "xml")
    params = system_params(method="deliveryorder.confirm", app_key="k1", customer_id="CUST01",
                           now=datetime.now(timezone.utc))
    signed = signed_params({**params, "x-extra": "v"}, body, "s3cret")
    query = {k: v for k, v in signed.items() if k != "x-extra"}
    headers = {"top-sign-list": "x-extra", "x-extra": "v"}
    assert verify_call(query, headers, body.encode(), app_key="k1", secret="s3cret", now=time.time()).event_id
    with pytest.raises(VerificationError):
        verify_call(query, {**headers, "x-extra": "w"}, body.encode(), app_key="k1", secret="s3cret", now=time.time())


@pytest.mark.parametrize("name", ["deliveryorder_confirm", "entryorder_confirm", "returnorder_confirm",
                                  "stockchange_report"])
def test_samples_are_what_the_verifier_parses(name: str) -> None:
    """The samples under connectors/qimen/samples (for mappings) decode from their XML to their JSON."""
    from pathlib import Path

    import connectors.qimen

    folder = Path(connectors.qimen.__file__).parent / "samples"
    as_json = __import__("json").loads((folder / f"{name}.json").read_text())
    assert codec.from_xml((folder / f"{name}.xml").read_text()) == as_json
    assert event_id(name.replace("_", "."), as_json).startswith(f"qimen:{name.replace('_', '.')}:")
