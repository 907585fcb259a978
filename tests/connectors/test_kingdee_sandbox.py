"""Our Kingdee connector against the K/3 Cloud sandbox: post, read back, refusals, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from connectors.base import AuthError
from connectors.kingdee.sandbox import create_app
from connectors.testing import run_sandbox
from connectors.vouchers import Voucher
from connectors.vouchers.erp import VoucherRefused
from tests.connectors.kingdee_support import ACCT, APP_ID, APP_SECRET, connector, voucher


@pytest.fixture
def sandbox() -> Iterator[str]:
    with run_sandbox(create_app(app_key=APP_ID, app_secret=APP_SECRET, acct_id=ACCT,
                                closed_periods=[("001", "2024-01")])) as url:
        yield url


def vouchers_in(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/vouchers").json()


@pytest.mark.parametrize("auth", ["password", "app_secret", "sign", "signed_headers"])
async def test_each_auth_mode_saves_and_reads_back_a_voucher(sandbox: str, auth: str) -> None:
    async with connector(sandbox, auth=auth) as kd:
        v = voucher(f"auth-{auth}")
        posted = await kd.post(v)
        assert posted.number.startswith("记-202405-") and not posted.already_posted
        back = await kd.find(v.key)
    assert back is not None and back.erp_id == posted.erp_id and back.book == "E1"
    def amounts(lines: tuple) -> list[tuple]:
        return [(ln.account, ln.debit, ln.credit) for ln in lines]

    assert amounts(back.lines) == amounts(v.lines)
    assert back.lines[0].summary == "采购入库 EO-auth-" + auth + " SKU-A×5"
    stored = vouchers_in(sandbox)
    assert len(stored) == 1 and stored[0]["Entity"][0]["EXPLANATION"].startswith(v.key + " ")
    assert stored[0]["AccountBookID"] == {"Number": "001"}


async def test_posting_the_same_key_twice_saves_once(sandbox: str) -> None:
    async with connector(sandbox) as kd:
        first = await kd.post(voucher("twice"))
        second = await kd.post(voucher("twice"))
        result = await kd.post_voucher(voucher("twice").to_dict(), idempotency_key=voucher("twice").key)
    assert second.already_posted and second.erp_id == first.erp_id
    assert result.applied is False and result.reference == first.number
    assert len(vouchers_in(sandbox)) == 1


async def test_wrong_password_is_refused_with_kingdees_message(sandbox: str) -> None:
    async with connector(sandbox, credentials={"password": "nope"}) as kd:
        with pytest.raises(AuthError, match="用户名或密码错误"):
            await kd.post(voucher("pw"))


async def test_wrong_app_secret_is_refused_by_the_server_check(sandbox: str) -> None:
    async with connector(sandbox, auth="signed_headers", credentials={"app_secret": "wrong"}) as kd:
        with pytest.raises(AuthError, match="第三方系统登录授权验证失败"):
            await kd.find("ZS0000000000000000")


async def test_foreign_app_id_is_refused_by_the_gateway_with_519(sandbox: str) -> None:
    other = "999999_" + APP_ID.split("_")[1]
    async with connector(sandbox, auth="signed_headers", credentials={"app_id": other}) as kd:
        with pytest.raises(AuthError) as err:
            await kd.find("ZS0000000000000000")
    assert err.value.status == 519 and "signature is invalid" in (err.value.detail or "")


async def test_unbalanced_save_is_refused_with_kingdees_own_message(sandbox: str) -> None:
    from connectors.kingdee import payload

    data = payload.save_data(voucher("unbal"), book_number="001")
    data["Model"]["FEntity"][1]["FCREDIT"] = 10.0
    async with connector(sandbox) as kd:
        with pytest.raises(VoucherRefused) as err:
            await kd.client.save("GL_VOUCHER", data)
    assert err.value.erp_messages == ["凭证借贷方金额不平衡，借方合计：12.50，贷方合计：10.00"]
    assert vouchers_in(sandbox) == []


async def test_unknown_account_is_refused_then_posting_resumes_once_the_chart_is_fixed(sandbox: str) -> None:
    v = voucher("acct", account="1406")
    async with connector(sandbox) as kd:
        with pytest.raises(VoucherRefused) as err:
            await kd.post(v)
        assert err.value.erp_messages == ['第1行分录，字段“科目编码”的编码值["1406"]不存在']
        assert err.value.erp_code == "MsgCode9"
        httpx.post(f"{sandbox}/_sandbox/accounts", json={"number": "1406", "name": "发出商品"}).raise_for_status()
        posted = await kd.post(v)
    assert posted.lines[0].account == "1406" and len(vouchers_in(sandbox)) == 1


async def test_closed_period_is_refused(sandbox: str) -> None:
    async with connector(sandbox) as kd:
        with pytest.raises(VoucherRefused, match="2024年1期已结账"):
            await kd.post(voucher("closed", day=date(2024, 1, 31)))


async def test_timeout_after_save_is_found_by_query_before_retry(sandbox: str) -> None:
    httpx.post(f"{sandbox}/_sandbox/knobs", json={"timeout_after_save": 1, "timeout_seconds": 1.0}).raise_for_status()
    v = voucher("timeout")
    async with connector(sandbox, timeout=0.2) as kd:
        posted = await kd.post(v)
        again = await kd.post(v)
    assert posted.already_posted and again.already_posted and posted.erp_id == again.erp_id
    assert len(vouchers_in(sandbox)) == 1


async def test_session_lost_triggers_one_relogin(sandbox: str) -> None:
    async with connector(sandbox) as kd:
        await kd.find("ZS0000000000000000")  # logs in
        httpx.post(f"{sandbox}/_sandbox/faults", json={"force_error": {"kind": "auth", "count": 1}}).raise_for_status()
        assert await kd.find("ZS0000000000000000") is None
    logins = [e for e in httpx.get(f"{sandbox}/_sandbox/log").json()["requests"] if "ValidateUser" in e["path"]]
    assert len(logins) == 2


async def test_list_posted_reads_the_period_and_misses_a_deleted_voucher(sandbox: str) -> None:
    async with connector(sandbox) as kd:
        a = await kd.post(voucher("rec-a"))
        b = await kd.post(voucher("rec-b", day=date(2024, 5, 31)))
        await kd.post(voucher("rec-c", day=date(2024, 6, 1)))
        assert {p.key for p in await kd.list_posted("E1", date(2024, 5, 1), date(2024, 5, 31))} == {
            voucher("rec-a").key, voucher("rec-b").key}
        assert httpx.delete(f"{sandbox}/_sandbox/vouchers/{b.erp_id}").status_code == 200
        left = await kd.list_posted("E1", date(2024, 5, 1), date(2024, 5, 31))
    assert [p.erp_id for p in left] == [a.erp_id] and left[0].total_debit == left[0].total_credit


async def test_custom_key_field_keeps_the_summary_clean(sandbox: str) -> None:
    v = voucher("custom")
    async with connector(sandbox, key_field="F_ZS_VoucherKey") as kd:
        await kd.post(v)
        back = await kd.find(v.key)
    stored = vouchers_in(sandbox)[0]
    assert back is not None and stored["F_ZS_VoucherKey"] == v.key
    assert stored["Entity"][0]["EXPLANATION"] == v.lines[0].summary


async def test_auto_audit_submits_and_audits(sandbox: str) -> None:
    async with connector(sandbox, auto_audit=True) as kd:
        posted = await kd.post(voucher("audit"))
        back = await kd.find(posted.key)
    assert back is not None and back.status == "C"


async def test_bad_query_returns_kingdees_nested_error(sandbox: str) -> None:
    async with connector(sandbox) as kd:
        with pytest.raises(VoucherRefused, match="业务对象\\[NOPE\\]不存在"):
            await kd.client.bill_query("NOPE", ["FID"])


def test_operator_endpoints_answer_bad_input_with_4xx(sandbox: str) -> None:
    assert httpx.post(f"{sandbox}/_sandbox/knobs", content=b"[").status_code == 400
    assert httpx.post(f"{sandbox}/_sandbox/periods", json={}).status_code == 400
    assert httpx.delete(f"{sandbox}/_sandbox/vouchers/42").status_code == 404
    assert httpx.post(f"{sandbox}/_sandbox/events", json={}).status_code == 422
    garbage = httpx.post(f"{sandbox}/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc",
                         content=b"{not json")
    assert garbage.status_code == 200 and garbage.json()["Result"]["ResponseStatus"]["IsSuccess"] is False
    # last: connectors.testing.Faults keeps error_rate=3 even though it answers 400 (reported to the lead)
    assert httpx.post(f"{sandbox}/_sandbox/faults", json={"error_rate": 3}).status_code == 400


async def test_a_key_unsafe_for_a_filter_string_is_refused_before_any_call(sandbox: str) -> None:
    from connectors.base import ValidationError

    async with connector(sandbox) as kd:
        with pytest.raises(ValidationError, match="unsafe in a FilterString"):
            await kd.find("x' or '1'='1")


def test_voucher_dict_round_trip() -> None:
    v = voucher("rt")
    assert Voucher.from_dict(v.to_dict()) == v
