"""Our Yonyou connector against the YonBIP sandbox: token, post, read back, refusals, exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest

from connectors.base import AuthError, InstanceConfig, RateLimited, RetryPolicy
from connectors.testing import run_sandbox
from connectors.vouchers import Voucher, VoucherLine, voucher_key
from connectors.vouchers.erp import VoucherRefused
from connectors.yonyou import YonyouConnector, payload, signing
from connectors.yonyou.sandbox import create_app

APP_KEY, APP_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90", "yon-sandbox-secret"
FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02, jitter=0.0, max_retry_after=0.05)


@pytest.fixture
def sandbox() -> Iterator[str]:
    with run_sandbox(create_app(app_key=APP_KEY, app_secret=APP_SECRET, closed_periods=[("ZS01", "2024-01")],
                                calls_per_minute=1000)) as url:
        yield url


def connector(url: str, *, secret: str = APP_SECRET, timeout: float = 5.0, **settings: object) -> YonyouConnector:
    config = InstanceConfig(
        name="yonyou-test", platform="yonyou", base_url=url,
        credentials={"app_key": APP_KEY, "app_secret": secret},
        settings={"accbooks": {"E1": "ZS01"}, "maker_mobile": "13800000000", "timeout": timeout,
                  "rate_limit_per_second": 1000, "rate_limit_burst": 1000, **settings},
    )
    return YonyouConnector(config, retry=FAST)


def voucher(tag: str, *, amount: str = "30.00", account: str = "6401", day: date = date(2024, 5, 6)) -> Voucher:
    lines = (
        VoucherLine(account, Decimal(amount), Decimal(0), f"销售出库 订单O-{tag} SKU-A×2", (("shop", "TM1"),), (tag,)),
        VoucherLine("1405", Decimal(0), Decimal(amount), f"销售出库 订单O-{tag} SKU-A×2", (("warehouse", "W1"),), (tag,)),
    )
    return Voucher(key=voucher_key("yon", tag), book="E1", date=day, lines=lines)


def stored(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/vouchers").json()


async def test_save_then_query_back(sandbox: str) -> None:
    v = voucher("save")
    async with connector(sandbox) as yy:
        posted = await yy.post(v)
        back = await yy.find(v.key, book="E1", on=v.date)
        by_id = await yy.view(posted.erp_id)
    assert not posted.already_posted and posted.number == "2024-05-1" and posted.book == "E1"
    assert back is not None and back.erp_id == posted.erp_id == by_id.erp_id
    assert [(ln.account, ln.debit, ln.credit) for ln in back.lines] == [("6401", Decimal("30.00"), Decimal("0.00")),
                                                                        ("1405", Decimal("0.00"), Decimal("30.00"))]
    record = stored(sandbox)[0]
    assert record["businessId"] == v.key and record["bodies"][0]["clientAuxiliaryList"] == [
        {"filedCode": "ZS_SHOP", "valueCode": "TM1"}]
    assert "creditOrg" in record["bodies"][0] and record["bodies"][0]["creditOrg"] == 0.0


async def test_same_key_posts_once(sandbox: str) -> None:
    async with connector(sandbox) as yy:
        first = await yy.post(voucher("twice"))
        result = await yy.post_voucher(voucher("twice").to_dict(), idempotency_key=voucher("twice").key)
    assert result.applied is False and result.reference == first.number and len(stored(sandbox)) == 1


async def test_wrong_secret_is_refused_with_yonyous_message(sandbox: str) -> None:
    async with connector(sandbox, secret="nope") as yy:
        with pytest.raises(AuthError) as err:
            await yy.post(voucher("secret"))
    assert err.value.code == "400" and "签名验证失败" in (err.value.detail or "")


async def test_unbalanced_body_is_refused_with_yonyous_message(sandbox: str) -> None:
    body = payload.add_voucher_body(voucher("unbal"), accbook="ZS01", maker_mobile="13800000000")
    body["bodies"][1].update(creditOriginal=20.0, creditOrg=20.0)
    async with connector(sandbox) as yy:
        with pytest.raises(VoucherRefused) as err:
            await yy.client.call("/yonbip/fi/ficloud/openapi/voucher/addVoucher", body, retry=False)
    assert err.value.erp_code == "404"
    assert err.value.erp_messages == ["凭证保存不成功,借贷不平衡！借方合计30.00,贷方合计20.00"]


async def test_missing_accbook_uses_the_documented_message(sandbox: str) -> None:
    body = payload.add_voucher_body(voucher("nobook"), accbook="", maker_mobile="13800000000")
    async with connector(sandbox) as yy:
        with pytest.raises(VoucherRefused, match="凭证保存不成功,账簿code不能为空！"):
            await yy.client.call("/yonbip/fi/ficloud/openapi/voucher/addVoucher", body, retry=False)


async def test_unknown_subject_is_refused_then_resumes_after_the_fix(sandbox: str) -> None:
    v = voucher("subject", account="640101")
    async with connector(sandbox) as yy:
        with pytest.raises(VoucherRefused) as err:
            await yy.post(v)
        assert err.value.erp_messages == ["凭证保存不成功,第1行分录科目编码[640101]不存在或已停用！"]
        httpx.post(f"{sandbox}/_sandbox/accounts", json={"number": "640101"}).raise_for_status()
        assert (await yy.post(v)).lines[0].account == "640101"
    assert len(stored(sandbox)) == 1


async def test_closed_period_is_refused(sandbox: str) -> None:
    async with connector(sandbox) as yy:
        with pytest.raises(VoucherRefused, match=r"会计期间\[2024-01\]已结账"):
            await yy.post(voucher("closed", day=date(2024, 1, 10)))


async def test_timeout_after_save_is_found_by_query_before_retry(sandbox: str) -> None:
    httpx.post(f"{sandbox}/_sandbox/knobs", json={"timeout_after_save": 1, "timeout_seconds": 1.0}).raise_for_status()
    v = voucher("timeout")
    async with connector(sandbox, timeout=0.2) as yy:
        posted = await yy.post(v)
        again = await yy.post(v)
    assert posted.already_posted and again.already_posted and posted.erp_id == again.erp_id
    assert len(stored(sandbox)) == 1


async def test_expired_token_is_refreshed_once(sandbox: str) -> None:
    async with connector(sandbox) as yy:
        await yy.find("ZS0000000000000000")
        httpx.post(f"{sandbox}/_sandbox/tokens/expire").raise_for_status()
        assert await yy.find("ZS0000000000000000") is None
    tokens = [e for e in httpx.get(f"{sandbox}/_sandbox/log").json()["requests"] if "getAccessToken" in e["path"]]
    assert len(tokens) == 2


async def test_list_posted_misses_a_voucher_deleted_in_the_erp(sandbox: str) -> None:
    async with connector(sandbox, page_size=1) as yy:
        a = await yy.post(voucher("a"))
        b = await yy.post(voucher("b", day=date(2024, 5, 31)))
        await yy.post(voucher("c", day=date(2024, 6, 2)))
        assert {p.key for p in await yy.list_posted("E1", date(2024, 5, 1), date(2024, 5, 31))} == {a.key, b.key}
        assert httpx.delete(f"{sandbox}/_sandbox/vouchers/{b.erp_id}").status_code == 200
        left = await yy.list_posted("E1", date(2024, 5, 1), date(2024, 5, 31))
    assert [p.erp_id for p in left] == [a.erp_id]


async def test_rate_limit_answers_429_and_the_client_raises_rate_limited() -> None:
    with run_sandbox(create_app(app_key=APP_KEY, app_secret=APP_SECRET, calls_per_minute=2)) as url:
        async with connector(url) as yy:
            await yy.find("ZS0000000000000000")
            await yy.find("ZS0000000000000000")
            with pytest.raises(RateLimited) as err:
                await yy.find("ZS0000000000000000")
    assert err.value.retry_after is not None and err.value.retry_after >= 1


def test_token_endpoint_checks_signature_and_timestamp(sandbox: str) -> None:
    url = f"{sandbox}/iuap-api-auth/open-auth/selfAppAuth/getAccessToken"
    ts = int(time.time() * 1000)
    ok = httpx.get(url, params={"appKey": APP_KEY, "timestamp": ts,
                                "signature": signing.token_signature_raw(APP_KEY, APP_SECRET, ts)}).json()
    assert ok["code"] == "00000" and ok["data"]["expire"] == 7200
    old = ts - 3_600_000
    stale = httpx.get(url, params={"appKey": APP_KEY, "timestamp": old,
                                   "signature": signing.token_signature_raw(APP_KEY, APP_SECRET, old)}).json()
    assert stale["code"] == "400" and "timestamp已过期" in stale["message"]
    bare = httpx.post(f"{sandbox}/yonbip/fi/ficloud/openapi/voucher/addVoucher?access_token=bogus", json={})
    assert bare.headers["content-type"].startswith("text/plain") and bare.text == "非法token"


def test_operator_endpoints_answer_bad_input_with_4xx(sandbox: str) -> None:
    assert httpx.post(f"{sandbox}/_sandbox/knobs", content=b"[").status_code == 400
    assert httpx.post(f"{sandbox}/_sandbox/periods", json={"book": "ZS01"}).status_code == 400
    assert httpx.delete(f"{sandbox}/_sandbox/vouchers/nope").status_code == 404
    assert httpx.post(f"{sandbox}/_sandbox/events", json={}).status_code == 422
