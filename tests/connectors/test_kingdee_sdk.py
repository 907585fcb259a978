"""The official `kingdee-cdp-webapi-sdk` (k3cloud_webapi_sdk) against the sandbox, unchanged but for the host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from k3cloud_webapi_sdk.main import K3CloudApiSdk

from connectors.kingdee import payload
from connectors.kingdee.sandbox import create_app
from connectors.testing import run_sandbox
from tests.connectors.kingdee_support import ACCT, APP_ID, APP_SECRET, voucher


@pytest.fixture
def sandbox() -> Iterator[str]:
    with run_sandbox(create_app(app_key=APP_ID, app_secret=APP_SECRET, acct_id=ACCT)) as url:
        yield url


def sdk(url: str, tmp_path: Path, secret: str = APP_SECRET) -> K3CloudApiSdk:
    conf = tmp_path / "conf.ini"
    conf.write_text(
        "[config]\n"
        f"x-kdapi-acctid = {ACCT}\nx-kdapi-username = administrator\nx-kdapi-appid = {APP_ID}\n"
        f"x-kdapi-appsec = {secret}\nx-kdapi-serverurl = {url}/k3cloud/\nx-kdapi-lcid = 2052\n"
        "x-kdapi-requesttimeout = 10\nx-kdapi-connecttimeout = 10\n",
        encoding="utf-8",
    )
    client = K3CloudApiSdk(f"{url}/k3cloud/")
    client.Init(config_path=str(conf), config_node="config")
    return client


def test_official_sdk_saves_a_voucher_and_queries_it_back(sandbox: str, tmp_path: Path) -> None:
    client = sdk(sandbox, tmp_path)
    v = voucher("sdk")
    saved = json.loads(client.Save("GL_VOUCHER", payload.save_data(v, book_number="001")))
    status = saved["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is True and status["SuccessEntitys"][0]["Number"] == saved["Result"]["Number"]
    rows = json.loads(client.ExecuteBillQuery({
        "FormId": "GL_VOUCHER", "FieldKeys": "FVOUCHERID,FBillNo,FACCOUNTID.FNumber,FDEBIT,FCREDIT",
        "FilterString": payload.key_filter(v.key), "Limit": 100}))
    assert rows == [[saved["Result"]["Id"], saved["Result"]["Number"], "1405", 12.5, 0.0],
                    [saved["Result"]["Id"], saved["Result"]["Number"], "2202.02", 0.0, 12.5]]
    audited = json.loads(client.Submit("GL_VOUCHER", {"Ids": str(saved["Result"]["Id"])}))
    assert audited["Result"]["ResponseStatus"]["IsSuccess"] is True
    log = httpx.get(f"{sandbox}/_sandbox/log").json()["requests"]
    assert all(e["headers"]["x-kd-appkey"] == APP_ID for e in log)  # signed headers, no login call


def test_official_sdk_with_a_wrong_secret_gets_kingdees_refusal(sandbox: str, tmp_path: Path) -> None:
    client = sdk(sandbox, tmp_path, secret="not-the-secret")
    answer = json.loads(client.Save("GL_VOUCHER", payload.save_data(voucher("sdk-bad"), book_number="001")))
    status = answer["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is False and status["MsgCode"] == 1
    assert "第三方系统登录授权验证失败" in status["Errors"][0]["Message"]
    assert httpx.get(f"{sandbox}/_sandbox/vouchers").json() == []


def test_official_sdk_sees_kingdees_error_for_an_unknown_account(sandbox: str, tmp_path: Path) -> None:
    client = sdk(sandbox, tmp_path)
    answer = json.loads(client.Save("GL_VOUCHER", payload.save_data(voucher("sdk-acct", account="9999"),
                                                                     book_number="001")))
    errors = answer["Result"]["ResponseStatus"]["Errors"]
    assert errors == [{"FieldName": "FACCOUNTID", "Message": '第1行分录，字段“科目编码”的编码值["9999"]不存在', "DIndex": 0}]
