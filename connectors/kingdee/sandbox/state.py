"""Kingdee sandbox state: chart of accounts, account books, closed periods and GL_VOUCHER bills.

Plain Python with a lock (the app runs on one event loop, operator calls may come from tests).
Error messages imitate K/3 Cloud's wording; where the exact wording is not publicly verified
the report says so. `KdError` carries what goes into `Result.ResponseStatus`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_ACCOUNTS = {
    "1001": "库存现金", "1002": "银行存款", "1122": "应收账款", "1221": "其他应收款", "1404": "材料成本差异",
    "1405": "库存商品", "1901": "待处理财产损溢", "2202": "应付账款", "2202.01": "应付账款-明细",
    "2202.02": "应付账款-暂估应付", "2221.01": "应交税费-应交增值税", "2241": "其他应付款",
    "6001": "主营业务收入", "6401": "主营业务成本",
}
DEFAULT_BOOKS = {"001": "中枢演示账簿"}
VOUCHER_GROUPS = {"PRE001": "记", "PRE002": "收", "PRE003": "付", "PRE004": "转"}

# K/3 Cloud MsgCode values (ResponseStatus.MsgCode); 0/1/9 seen in public code, the rest from the
# WebAPI doc's enum as remembered — see the report.
MSG_DEFAULT, MSG_SESSION_LOST, MSG_PARAM, MSG_NOT_EXIST, MSG_NO_DATA, MSG_VALIDATION = 0, 1, 8, 9, 10, 11


class KdError(Exception):
    def __init__(self, errors: list[tuple[str | None, str]], msg_code: int = MSG_VALIDATION) -> None:
        super().__init__("; ".join(m for _, m in errors))
        self.errors = errors
        self.msg_code = msg_code


@dataclass
class KdVoucher:
    id: int
    number: str
    book: str
    date: date
    group: str
    group_no: int
    header: dict[str, Any]
    entries: list[dict[str, Any]]
    status: str = "A"  # A 创建, B 审核中, C 已审核, D 重新审核

    def view(self) -> dict[str, Any]:
        return {
            "Id": self.id, "BillNo": self.number, "Date": f"{self.date.isoformat()}T00:00:00",
            "DocumentStatus": self.status, "Year": self.date.year, "Period": self.date.month,
            "AccountBookID": {"Number": self.book}, "VOUCHERGROUPID": {"Number": self.group},
            "VOUCHERGROUPNO": str(self.group_no),
            **{k: v for k, v in self.header.items() if k not in ("FEntity",)},
            "Entity": [
                {"Id": i + 1, "EXPLANATION": e.get("FEXPLANATION", ""),
                 "ACCOUNTID": {"Number": e["_account"]}, "DEBIT": float(e["_debit"]), "CREDIT": float(e["_credit"])}
                for i, e in enumerate(self.entries)
            ],
        }


def _number(ref: Any) -> str | None:
    if isinstance(ref, dict):
        v = ref.get("FNumber", ref.get("FNUMBER", ref.get("Number")))
        return None if v in (None, "") else str(v)
    return None if ref in (None, "") else str(ref)


def _amount(value: Any, field_name: str, row: int) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        raise KdError([(field_name, f"第{row}行分录，字段“{field_name}”的值“{value}”不是有效的数字")], MSG_PARAM) from None


@dataclass
class KingdeeState:
    accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    books: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BOOKS))
    closed: set[tuple[str, str]] = field(default_factory=set)  # (book, "YYYY-MM")
    vouchers: dict[int, KdVoucher] = field(default_factory=dict)
    next_id: int = 100001
    timeout_after_save: int = 0
    timeout_seconds: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- GL_VOUCHER Save -----------------------------------------------------------------------
    def save(self, model: dict[str, Any]) -> KdVoucher:
        if not isinstance(model, dict):
            raise KdError([("Model", "参数Model不能为空，且必须是JSON对象")], MSG_PARAM)
        book = _number(model.get("FAccountBookID"))
        if not book:
            raise KdError([("FAccountBookID", "字段“账簿”是必填项")])
        if book not in self.books:
            raise KdError([("FAccountBookID", f"字段“账簿”的编码值[\"{book}\"]不存在")], MSG_NOT_EXIST)
        try:
            day = date.fromisoformat(str(model.get("FDate", ""))[:10])
        except ValueError:
            raise KdError([("FDate", f"字段“日期”的值“{model.get('FDate')}”不是有效的日期")], MSG_PARAM) from None
        period = f"{day.year:04d}-{day.month:02d}"
        if (book, period) in self.closed:
            raise KdError([("FDate", f"账簿[{book}]的会计期间{day.year}年{day.month}期已结账，不允许新增凭证")])
        group = _number(model.get("FVOUCHERGROUPID")) or "PRE001"
        if group not in VOUCHER_GROUPS:
            raise KdError([("FVOUCHERGROUPID", f"字段“凭证字”的编码值[\"{group}\"]不存在")], MSG_NOT_EXIST)
        entries = model.get("FEntity")
        if not isinstance(entries, list) or not entries:
            raise KdError([("FEntity", "凭证分录不能为空")])
        errors: list[tuple[str | None, str]] = []
        debit = credit = Decimal(0)
        clean = []
        for row, raw in enumerate(entries, start=1):
            entry = dict(raw) if isinstance(raw, dict) else {}
            account = _number(entry.get("FACCOUNTID"))
            d = _amount(entry.get("FDEBIT"), "FDEBIT", row)
            c = _amount(entry.get("FCREDIT"), "FCREDIT", row)
            if not account:
                errors.append(("FACCOUNTID", f"第{row}行分录，字段“科目编码”是必填项"))
            elif account not in self.accounts:
                errors.append(("FACCOUNTID", f"第{row}行分录，字段“科目编码”的编码值[\"{account}\"]不存在"))
            if not entry.get("FEXPLANATION"):
                errors.append(("FEXPLANATION", f"第{row}行分录，字段“摘要”是必填项"))
            if d and c:
                errors.append(("FDEBIT", f"第{row}行分录，借方金额和贷方金额不能同时有值"))
            if not d and not c:
                errors.append(("FDEBIT", f"第{row}行分录，借方金额和贷方金额不能同时为零"))
            debit += d
            credit += c
            entry.update(_account=account, _debit=d, _credit=c)
            clean.append(entry)
        if errors:
            unknown = all("不存在" in m for _, m in errors)
            raise KdError(errors, MSG_NOT_EXIST if unknown else MSG_VALIDATION)
        if debit != credit:
            raise KdError([(None, f"凭证借贷方金额不平衡，借方合计：{debit:.2f}，贷方合计：{credit:.2f}")])
        with self.lock:
            vid = self.next_id
            self.next_id += 1
            group_no = 1 + sum(
                1 for v in self.vouchers.values()
                if v.book == book and (v.date.year, v.date.month) == (day.year, day.month) and v.group == group
            )
            header = {k: v for k, v in model.items() if k != "FEntity"}
            voucher = KdVoucher(
                id=vid, number=f"{VOUCHER_GROUPS[group]}-{day.year:04d}{day.month:02d}-{group_no:04d}",
                book=book, date=day, group=group, group_no=group_no, header=header, entries=clean,
            )
            self.vouchers[vid] = voucher
        return voucher

    def find(self, ids: Any = None, numbers: Any = None) -> list[KdVoucher]:
        wanted_ids = {int(i) for i in str(ids or "").split(",") if i.strip().isdigit()}
        wanted_numbers = set(numbers or [])
        found = [v for v in self.vouchers.values() if v.id in wanted_ids or v.number in wanted_numbers]
        if not found:
            raise KdError([(None, "未找到对应的单据数据")], MSG_NO_DATA)
        return found

    # -- ExecuteBillQuery -----------------------------------------------------------------------
    def query(self, form_id: str, field_keys: str, filter_string: str, start: int, limit: int) -> list[list[Any]]:
        if form_id != "GL_VOUCHER":
            raise KdError([(None, f"业务对象[{form_id}]不存在或未启用查询")], MSG_NOT_EXIST)
        keys = [k.strip() for k in (field_keys or "").split(",") if k.strip()]
        if not keys:
            raise KdError([("FieldKeys", "FieldKeys不能为空")], MSG_PARAM)
        conditions = parse_filter(filter_string or "")
        rows = []
        for v in sorted(self.vouchers.values(), key=lambda x: x.id):
            for seq, entry in enumerate(v.entries, start=1):
                values = _row_values(v, entry, seq)
                if all(_test(values, f, op, val) for f, op, val in conditions):
                    rows.append([_field(values, k) for k in keys])
        rows = rows[start:]
        return rows[:limit] if limit > 0 else rows


def _row_values(v: KdVoucher, entry: dict[str, Any], seq: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        k.upper(): (_number(val) if isinstance(val, dict) else val) for k, val in v.header.items()
    }
    values.update({
        "FVOUCHERID": v.id, "FID": v.id, "FBILLNO": v.number, "FDATE": f"{v.date.isoformat()}T00:00:00",
        "FYEAR": v.date.year, "FPERIOD": v.date.month, "FACCOUNTBOOKID": v.book, "FACCOUNTBOOKID.FNUMBER": v.book,
        "FVOUCHERGROUPID": v.group, "FVOUCHERGROUPID.FNUMBER": v.group, "FVOUCHERGROUPNO": str(v.group_no),
        "FDOCUMENTSTATUS": v.status, "FENTRYID": seq, "FENTITY_FENTRYID": seq,
        "FEXPLANATION": entry.get("FEXPLANATION", ""),
        "FACCOUNTID": entry["_account"], "FACCOUNTID.FNUMBER": entry["_account"],
        "FDEBIT": float(entry["_debit"]), "FCREDIT": float(entry["_credit"]),
    })
    return values


def _field(values: dict[str, Any], key: str) -> Any:
    k = key.upper()
    if k not in values:
        raise KdError([(key, f"字段[{key}]在业务对象[GL_VOUCHER]中不存在")], MSG_NOT_EXIST)
    return values[k]


_COND = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(<>|!=|>=|<=|=|>|<|\blike\b)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*", re.I)


def parse_filter(text: str) -> list[tuple[str, str, Any]]:
    """`A = 'x' and B like 'y%' and FDate >= '2024-05-01'` → conditions (the subset the hub uses)."""
    out: list[tuple[str, str, Any]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        m = _COND.match(text, pos)
        if not m:
            raise KdError([("FilterString", f"过滤条件语法错误：{text[pos:pos + 40]}")], MSG_PARAM)
        raw = m.group(3)
        value: Any = raw[1:-1].replace("''", "'") if raw.startswith("'") else Decimal(raw)
        out.append((m.group(1).upper(), m.group(2).lower(), value))
        pos = m.end()
        conj = re.compile(r"and\s+", re.I).match(text, pos)
        if conj:
            pos = conj.end()
        elif pos < len(text):
            raise KdError([("FilterString", f"过滤条件语法错误：{text[pos:pos + 40]}")], MSG_PARAM)
    return out


def _test(values: dict[str, Any], field_name: str, op: str, want: Any) -> bool:
    have = _field(values, field_name)
    if op == "like":
        pattern = "^" + re.escape(str(want)).replace("%", ".*").replace("_", ".") + "$"
        return re.match(pattern, str(have or ""), re.S) is not None
    if isinstance(want, Decimal):
        try:
            have = Decimal(str(have))
        except InvalidOperation:
            return False
    else:
        have = str(have if have is not None else "")
        if field_name == "FDATE":
            have, want = have[:10], str(want)[:10]
    return {"=": have == want, "<>": have != want, "!=": have != want, ">=": have >= want,
            "<=": have <= want, ">": have > want, "<": have < want}[op]


def parse_data(body: dict[str, Any]) -> tuple[str | None, Any]:
    """(formid, data) from the three body styles clients use: object, JSON string, positional."""
    if "parameters" in body and isinstance(body["parameters"], list):
        params = body["parameters"]
        if len(params) == 1:
            form_id, data = None, params[0]
        else:
            form_id, data = params[0], params[1] if len(params) > 1 else None
    else:
        form_id, data = body.get("formid", body.get("FormId")), body.get("data")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise KdError([("data", "参数data不是有效的JSON")], MSG_PARAM) from None
    return form_id, data
