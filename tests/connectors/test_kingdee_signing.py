from __future__ import annotations

import hashlib

from k3cloud_webapi_sdk.util import encode_util, hmac_util

from connectors.kingdee import signing

URL = ("https://erp.example.com/K3Cloud/"
       "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc")


def test_signed_headers_match_the_published_test_vector() -> None:
    h = signing.signed_headers(URL, app_id="123456_YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4",
                               app_secret="test-app-secret-value", acct_id="dcid-1", username="user-1",
                               lcid=2052, org_num=100, timestamp=1700000000)
    assert h["X-Api-ClientID"] == "123456"
    assert h["X-Api-Signature"] == (
        "MjNhMzg5MmZiMWE1MTQ1ZGE5NWFkYmZiZWYxYzhlY2NjNzcwM2ZjNDJlZTczMzBhNzkxOTk1ODhjNDZkMTEzYw==")
    assert h["X-Kd-Appdata"] == "ZGNpZC0xLHVzZXItMSwyMDUyLDEwMA=="
    assert h["X-Kd-Signature"] == (
        "NjI5MzRiZGVhNGJhOWY2N2Y2YzQ2MzQ5ODA3N2JiZTRiMDRmOTUwNjI3YWIzODU1ODBkZDdhNzgwMzdmMDgxMg==")


def test_client_secret_derivation_equals_the_official_sdk() -> None:
    part = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4"
    assert signing.split_app_id("123456_" + part) == ("123456", encode_util.DecodeAppSecret(part))
    assert signing.split_app_id("no-underscore") == ("", "")


def test_hex_then_base64_hmac_equals_the_sdk_helper() -> None:
    assert signing.kd_signature("app", "secret", "a,b,2052,0") == hmac_util.HmacSHA256("appa,b,2052,0", "secret")


def test_login_sign_sorts_the_five_values_before_hashing() -> None:
    expected = hashlib.sha256("".join(sorted(["acct", "user", "app", "sec", "1700000000"])).encode()).hexdigest()
    assert signing.login_sign("acct", "user", "app", "sec", 1700000000) == expected
    assert signing.login_sign("acct", "user", "app", "sec", 1700000001) != expected
