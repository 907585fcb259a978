"""JD signing vectors, computed independently here (hashlib/hmac over a hand-built string)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from connectors.jd.signing import format_timestamp, param_json, parse_timestamp, response_root, sign, signed_params

PARAMS = {
    "360buy_param_json": '{"skuId":10001,"stockNum":50}',
    "access_token": "tok",
    "app_key": "JDKEY",
    "method": "jingdong.stock.write.updateSkuStock",
    "timestamp": "2024-05-01 10:00:00",
    "v": "2.0",
}
CONCAT = (
    '360buy_param_json{"skuId":10001,"stockNum":50}access_tokentokapp_keyJDKEY'
    "methodjingdong.stock.write.updateSkuStocktimestamp2024-05-01 10:00:00v2.0"
)


def test_md5_vector_matches_the_worked_example_and_is_upper_hex() -> None:
    expected = hashlib.md5(("jdsecret" + CONCAT + "jdsecret").encode()).hexdigest().upper()
    assert expected == "540F6390D75E3002019BAA9DDE1E537B"
    assert sign("jdsecret", PARAMS) == expected


def test_sign_ignores_sign_itself_and_empty_values_and_sorts_keys() -> None:
    shuffled = dict(reversed(list(PARAMS.items())))
    assert sign("jdsecret", {**shuffled, "sign": "X", "empty": ""}) == sign("jdsecret", PARAMS)


def test_hmac_variants_use_the_secret_as_key_without_wrapping() -> None:
    assert (
        sign("jdsecret", PARAMS, "hmacsha256")
        == hmac.new(b"jdsecret", CONCAT.encode(), hashlib.sha256).hexdigest().upper()
    )
    assert (
        sign("jdsecret", PARAMS, "hmacmd5") == hmac.new(b"jdsecret", CONCAT.encode(), hashlib.md5).hexdigest().upper()
    )
    with pytest.raises(ValueError, match="sign_method"):
        sign("jdsecret", PARAMS, "sha1")


def test_any_changed_parameter_changes_the_signature() -> None:
    base = sign("jdsecret", PARAMS)
    for key in PARAMS:
        assert sign("jdsecret", {**PARAMS, key: PARAMS[key] + "x"}) != base, key
    assert sign("other", PARAMS) != base


def test_signed_params_carry_sorted_compact_param_json_and_a_valid_sign() -> None:
    params = signed_params(
        app_key="K",
        app_secret="S",
        method="m.x",
        business={"b": 1, "a": "京"},
        access_token="T",
        timestamp="2024-05-01 10:00:00",
    )
    assert params["360buy_param_json"] == '{"a":"京","b":1}' == param_json({"b": 1, "a": "京"})
    assert params["v"] == "2.0" and params["format"] == "json"
    unsigned = {k: v for k, v in params.items() if k != "sign"}
    concat = "".join(f"{k}{unsigned[k]}" for k in sorted(unsigned))
    assert params["sign"] == hashlib.md5(f"S{concat}S".encode()).hexdigest().upper()


def test_timestamps_are_gmt8_and_both_sdk_forms_parse() -> None:
    moment = datetime(2024, 5, 1, 2, 0, 0, tzinfo=UTC)
    assert format_timestamp(moment) == "2024-05-01 10:00:00"
    assert parse_timestamp("2024-05-01 10:00:00") == moment
    assert parse_timestamp("2024-05-01 02:00:00.000+0000") == moment  # the PyPI jd-sdk form
    with pytest.raises(ValueError, match="yyyy-MM-dd"):
        parse_timestamp("1714528800")


def test_response_root_keeps_jds_misspelling() -> None:
    assert response_root("jingdong.stock.write.updateSkuStock") == "jingdong_stock_write_updateSkuStock_responce"
