"""Douyin signing vectors, computed independently here (hashlib/hmac over a hand-built pattern)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors.douyin.signing import canonical_json, method_for_path, path_for_method, push_sign, sign

KEY, SECRET, TS = "7000000000000000001", "dy-secret", 1714528800


def independent(param_json: str, method: str = "sku.syncStock", ts: object = TS) -> str:
    pattern = f"{SECRET}app_key{KEY}method{method}param_json{param_json}timestamp{ts}v2{SECRET}"
    return hmac.new(SECRET.encode(), pattern.encode(), hashlib.sha256).hexdigest()


def test_hmac_sha256_vector_is_lower_hex_and_matches_the_worked_example() -> None:
    pj = canonical_json({"sku_id": 123, "product_id": 456, "incremental": False, "stock_num": 10})
    assert pj == '{"incremental":false,"product_id":456,"sku_id":123,"stock_num":10}'
    expected = independent(pj)
    assert expected == "9ecfe2c936cee92dfb46d9ab999c3d0f3b2d4ccdca927879dacad752567949e6"
    assert sign(KEY, SECRET, "sku.syncStock", pj, TS) == expected == expected.lower()


def test_md5_legacy_variant_wraps_the_secret_too() -> None:
    pj = '{"incremental":false,"product_id":456,"sku_id":123,"stock_num":10}'
    pattern = f"{SECRET}app_key{KEY}methodsku.syncStockparam_json{pj}timestamp{TS}v2{SECRET}"
    assert sign(KEY, SECRET, "sku.syncStock", pj, TS, "md5") == hashlib.md5(pattern.encode()).hexdigest()
    with pytest.raises(ValueError, match="sign_method"):
        sign(KEY, SECRET, "sku.syncStock", pj, TS, "sha1")


def test_param_json_sorts_nested_keys_compactly_and_keeps_unicode() -> None:
    params = {"z": {"b": [{"y": 1, "x": 2}], "a": "抖店"}, "a": None, "m": 1.5}
    pj = canonical_json(params)
    assert pj == '{"a":null,"m":1.5,"z":{"a":"抖店","b":[{"x":2,"y":1}]}}'
    assert json.loads(pj) == params
    reordered = {"m": 1.5, "a": None, "z": {"a": "抖店", "b": [{"x": 2, "y": 1}]}}
    assert sign(KEY, SECRET, "order.searchList", canonical_json(reordered), TS) == independent(pj, "order.searchList")


def test_a_changed_body_or_timestamp_changes_the_signature() -> None:
    pj = canonical_json({"sku_id": 1, "stock_num": 2})
    base = sign(KEY, SECRET, "sku.syncStock", pj, TS)
    assert sign(KEY, SECRET, "sku.syncStock", pj.replace("2", "3"), TS) != base
    assert sign(KEY, SECRET, "sku.syncStock", pj, TS + 1) != base
    assert sign(KEY, "other", "sku.syncStock", pj, TS) != base


def test_method_and_path_map_both_ways() -> None:
    assert method_for_path("/sku/syncStock") == "sku.syncStock"
    assert path_for_method("order.searchList") == "/order/searchList"


def test_push_sign_is_md5_of_app_key_body_secret() -> None:
    body = (
        b'[{"tag":"100","msg_id":"7000000000000000001","data":"{\\"p_id\\":4900000000000000001,'
        b'\\"s_ids\\":[4900000000000000001],\\"shop_id\\":1000,\\"order_status\\":1,\\"order_type\\":0,'
        b'\\"biz\\":2,\\"create_time\\":1714528800}"}]'
    )
    expected = hashlib.md5(KEY.encode() + body + SECRET.encode()).hexdigest()
    assert expected == "6a5a6b2557d723dc385e2ccb0fed2107"
    assert push_sign(KEY, SECRET, body) == expected
