"""YonBIP sandbox state: accounts, books, closed periods, vouchers, tokens.

Failure messages follow the one verbatim example in research/platforms.md §6.2
(`{"code":"404","message":"凭证保存不成功,账簿code不能为空！","data":{}}`): business code "404"
as a string, HTTP 200, message prefixed 凭证保存不成功. Other wordings are ours (see report).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_SUBJECTS = {
    "1001": "库存现金", "1002": "银行存款", "1122": "应收账款", "1221": "其他应收款", "1404": "材料成本差异",
    "1405": "库存商品", "1901": "待处理财产损溢", "2202": "应付账款", "220202": "应付账款-暂估应付",
    "2241": "其他应付款", "6001": "主营业务收入", "6401": "主营业务成本",
}
DEFAULT_ACCBOOKS = {"ZS01": "中枢演示账簿"}
VOUCHER_TYPES = {"1": "记账凭证", "01": "记账凭证", "记": "记账凭证"}


class YonError(Exception):
    def __init__(self, message: str, code: str = "404") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _money(value: Any, what: str, row: int) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise YonError(f"凭证保存不成功,第{row}行分录{what}不是有效金额！") from None


@dataclass
class YonVoucher:
    voucher_id: str
    bill_code: int
    accbook: str
    period: str
    make_time: str
    voucher_type: str
    header: dict[str, Any]
    bodies: list[dict[str, Any]]
    status: str = "01"

    def record(self) -> dict[str, Any]:
        debit = sum((Decimal(str(b["debitOrg"])) for b in self.bodies), Decimal("0.00"))
        credit = sum((Decimal(str(b["creditOrg"])) for b in self.bodies), Decimal("0.00"))
        return {
            "voucherId": self.voucher_id, "billCode": self.bill_code, "period": self.period,
            "makeTime": self.make_time, "voucherStatus": self.status,
            "accbook": {"code": self.accbook, "name": DEFAULT_ACCBOOKS.get(self.accbook, self.accbook)},
            "voucherType": {"code": self.voucher_type, "name": VOUCHER_TYPES.get(self.voucher_type, "")},
            "accbookCode": self.accbook, "voucherTypeCode": self.voucher_type,
            "description": self.header.get("description", ""),
            "businessId": self.header.get("businessId"),
            "externalSourceDataId": self.header.get("externalSourceDataId"),
            "srcSystemCode": self.header.get("srcSystemCode", "figl"),
            "totalDebitOrg": float(debit), "totalCreditOrg": float(credit),
            "bodies": [dict(b) for b in self.bodies],
        }


@dataclass
class YonyouState:
    subjects: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SUBJECTS))
    accbooks: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCBOOKS))
    closed: set[tuple[str, str]] = field(default_factory=set)
    vouchers: dict[str, YonVoucher] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at (unix s)
    timeout_after_save: int = 0
    timeout_seconds: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: dict[str, Any]) -> YonVoucher:
        if not isinstance(body, dict):
            raise YonError("凭证保存不成功,请求体必须是JSON对象！")
        accbook = str(body.get("accbookCode") or "")
        if not accbook:
            raise YonError("凭证保存不成功,账簿code不能为空！")
        if accbook not in self.accbooks:
            raise YonError(f"凭证保存不成功,账簿code[{accbook}]不存在！")
        vtype = str(body.get("voucherTypeCode") or "")
        if not vtype:
            raise YonError("凭证保存不成功,凭证类型code不能为空！")
        if vtype not in VOUCHER_TYPES:
            raise YonError(f"凭证保存不成功,凭证类型code[{vtype}]不存在！")
        if not body.get("makerMobile") and not body.get("makerEmail"):
            raise YonError("凭证保存不成功,制单人手机号和邮箱不能同时为空！")
        make_time = str(body.get("makeTime") or date.today().isoformat())
        try:
            made = date.fromisoformat(make_time[:10])
        except ValueError:
            raise YonError(f"凭证保存不成功,制单日期[{make_time}]格式不正确！") from None
        period = str(body.get("period") or f"{made.year:04d}-{made.month:02d}")
        if (accbook, period) in self.closed:
            raise YonError(f"凭证保存不成功,会计期间[{period}]已结账,不能保存凭证！")
        bodies = body.get("bodies")
        if not isinstance(bodies, list) or not bodies:
            raise YonError("凭证保存不成功,凭证分录bodies不能为空！")
        debit = credit = Decimal("0.00")
        clean = []
        for row, raw in enumerate(bodies, start=1):
            b = dict(raw) if isinstance(raw, dict) else {}
            if not b.get("description"):
                raise YonError(f"凭证保存不成功,第{row}行分录摘要不能为空！")
            subject = str(b.get("accsubjectCode") or "")
            if not subject:
                raise YonError(f"凭证保存不成功,第{row}行分录科目编码不能为空！")
            if subject not in self.subjects:
                raise YonError(f"凭证保存不成功,第{row}行分录科目编码[{subject}]不存在或已停用！")
            d_org, c_org = _money(b.get("debitOrg"), "本币借方", row), _money(b.get("creditOrg"), "本币贷方", row)
            d_ori = _money(b.get("debitOriginal"), "原币借方", row)
            c_ori = _money(b.get("creditOriginal"), "原币贷方", row)
            if (d_org or d_ori) and (c_org or c_ori):
                raise YonError(f"凭证保存不成功,第{row}行分录借贷不能同时填写！")
            if not (d_org or c_org):
                raise YonError(f"凭证保存不成功,第{row}行分录金额不能为零！")
            if bool(d_org) != bool(d_ori) or bool(c_org) != bool(c_ori):
                raise YonError(f"凭证保存不成功,第{row}行分录原币和本币都要填写！")
            debit += d_org
            credit += c_org
            b.update(debitOrg=float(d_org), creditOrg=float(c_org), debitOriginal=float(d_ori),
                     creditOriginal=float(c_ori))
            clean.append(b)
        if debit != credit:
            raise YonError(f"凭证保存不成功,借贷不平衡！借方合计{debit},贷方合计{credit}")
        business_id = body.get("businessId")
        with self.lock:
            if business_id and any(v.header.get("businessId") == business_id for v in self.vouchers.values()):
                raise YonError(f"凭证保存不成功,业务ID[{business_id}]对应的凭证已存在！")
            bill_code = 1 + sum(1 for v in self.vouchers.values() if (v.accbook, v.period) == (accbook, period))
            voucher = YonVoucher(
                voucher_id=str(uuid.uuid4()).upper(), bill_code=bill_code, accbook=accbook, period=period,
                make_time=made.isoformat(), voucher_type=vtype,
                header={k: v for k, v in body.items() if k != "bodies"}, bodies=clean,
            )
            self.vouchers[voucher.voucher_id] = voucher
        return voucher

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        pager = body.get("pager") if isinstance(body.get("pager"), dict) else {}
        try:
            index = int(pager.get("pageIndex", 1))
            size = int(pager.get("pageSize", 20))
        except (TypeError, ValueError):
            raise YonError("查询失败,分页参数不正确！", "400") from None
        if size < 1 or size > 1000 or index < 1:
            raise YonError("查询失败,pageSize取值范围为1-1000！", "400")
        start, end = body.get("periodStart"), body.get("periodEnd")
        book = body.get("accbookCode")
        ext = body.get("externalSourceDataId")
        found = [
            v for v in self.vouchers.values()
            if (not book or v.accbook == book) and (not start or v.period >= start) and (not end or v.period <= end)
            and (not ext or v.header.get("externalSourceDataId") == ext)
        ]
        found.sort(key=lambda v: (v.accbook, v.period, v.bill_code))
        page = found[(index - 1) * size: index * size]
        return {"pageIndex": index, "pageSize": size, "recordCount": len(found),
                "pageCount": (len(found) + size - 1) // size, "recordList": [v.record() for v in page]}
