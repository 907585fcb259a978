"""TOP signing vectors: computed here independently from the documented algorithm, plus fixed vectors."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from connectors.taobao.client import build_request
from connectors.taobao.signing import (
    canonical_string,
    format_timestamp,
    millis_timestamp,
    parse_timestamp,
    sign_params,
    timestamp_in_window,
    verify_sign,
)

SECRET = "helloworld"
BASE = {
    "app_key": "12345678", "format": "json", "method": "taobao.item.quantity.update", "num_iid": "123456",
    "quantity": "100", "session": "test", "sku_id": "998877", "timestamp": "2016-01-01 12:00:00",
    "type": "1", "v": "2.0",
}


def _independent(params: dict[str, str], secret: str, method: str) -> str:
    """The algorithm as documented: sorted keys, k+v concatenated, no sign, upper hex."""
    text = "".join(k + params[k] for k in sorted(params) if k != "sign" and params[k] != "")
    key, data = secret.encode(), text.encode("utf-8")
    if method == "md5":
        digest = hashlib.md5(key + data + key).hexdigest()
    elif method == "hmac":
        digest = hmac.new(key, data, "md5").hexdigest()
    else:
        digest = hmac.new(key, data, "sha256").hexdigest()
    return digest.upper()


@pytest.mark.parametrize(
    ("method", "fixed"),
    [
        ("md5", "4F62B8B47BC297ED5446F29154EFD107"),
        ("hmac", "2434F52461C5577CC96E0B02C6CE597D"),
        ("hmac-sha256", "3EE083B68EE04406BB3DF62989086DF43AE3D55D353A48CEB32153378830E7F7"),
    ],
)
def test_vectors_match_independent_computation_and_fixed_values(method: str, fixed: str) -> None:
    params = {**BASE, "sign_method": method}
    ours = sign_params(params, SECRET)
    assert ours == _independent(params, SECRET, method) == fixed
    assert ours == ours.upper() and len(ours) == (64 if method == "hmac-sha256" else 32)
    assert verify_sign({**params, "sign": ours}, SECRET)
    assert not verify_sign({**params, "sign": ours.lower()}, SECRET)  # TOP signs are upper hex
    assert not verify_sign({**params, "sign": ours}, SECRET + "x")


def test_unicode_values_are_signed_as_utf8() -> None:
    params = {**BASE, "sign_method": "hmac-sha256", "title": "中枢演示T恤"}
    assert sign_params(params, SECRET) == _independent(params, SECRET, "hmac-sha256")


def test_sign_itself_and_empty_values_are_excluded() -> None:
    params = {**BASE, "sign_method": "md5"}
    with_extras = {**params, "sign": "ANYTHING", "outer_id": ""}
    assert canonical_string(with_extras) == canonical_string(params)
    assert sign_params(with_extras, SECRET) == sign_params(params, SECRET)
    # the official Python SDK keeps empty strings: the sandbox accepts that form too
    python_form = sign_params(with_extras, SECRET, skip_empty=False)
    assert python_form != sign_params(params, SECRET)
    assert verify_sign({**with_extras, "sign": python_form}, SECRET)


def test_tampering_any_parameter_breaks_the_sign() -> None:
    signed = {**BASE, "sign_method": "hmac"}
    signed["sign"] = sign_params(signed, SECRET)
    for key in ("quantity", "num_iid", "timestamp", "session", "method"):
        assert not verify_sign({**signed, key: signed[key] + "1"}, SECRET), key
    assert not verify_sign({**signed, "sign_method": "md5"}, SECRET)
    assert not verify_sign({**signed, "sign_method": "sha1"}, SECRET)


def test_both_timestamp_forms() -> None:
    moment = datetime(2016, 1, 1, 4, 0, 0, tzinfo=UTC)  # = 12:00:00 GMT+8
    assert format_timestamp(moment) == "2016-01-01 12:00:00"
    assert millis_timestamp(moment) == "1451620800000"
    assert parse_timestamp("2016-01-01 12:00:00") == moment
    assert parse_timestamp("1451620800000") == moment
    with pytest.raises(ValueError, match="milliseconds"):
        parse_timestamp("1451620800")
    with pytest.raises(ValueError, match="neither"):
        parse_timestamp("2016-01-01T12:00:00Z")
    assert timestamp_in_window("2016-01-01 12:09:59", moment)
    assert not timestamp_in_window("2016-01-01 12:10:01", moment)
    assert not timestamp_in_window(str(int((moment - timedelta(minutes=11)).timestamp() * 1000)), moment)


@pytest.mark.parametrize(("form", "expected"), [("datetime", "2016-01-01 12:00:00"), ("millis", "1451620800000")])
def test_build_request_signs_what_it_sends(form: str, expected: str) -> None:
    moment = datetime(2016, 1, 1, 4, 0, 0, tzinfo=UTC)
    data = build_request("taobao.item.quantity.update", {"num_iid": 123456, "quantity": 100, "type": 1, "sku_id": None},
                         app_key="12345678", app_secret=SECRET, session="test", sign_method="md5",
                         timestamp_form=form, now=moment)
    assert data["timestamp"] == expected
    assert "sku_id" not in data
    assert data["sign"] == _independent(data, SECRET, "md5")
    with pytest.raises(ValueError, match="sign_method"):
        build_request("taobao.time.get", {}, app_key="k", app_secret="s", sign_method="sha1")
