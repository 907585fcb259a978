"""Voucher ↔ GL_VOUCHER payloads (pure): the Save body, the key filter, read-back rows.

Idempotency key placement (our choice, documented in the report): by default the key prefixes
every entry's 摘要 — `FEXPLANATION = "ZS0123456789ABCDEF 销售出库 订单O1 A×3"` — because that
works on every K/3 Cloud tenant without BOS customisation, and ExecuteBillQuery can filter on it
(`FEXPLANATION like 'ZS0123456789ABCDEF%'`; no brackets: SQL Server LIKE treats [] as a class).
A tenant that adds a custom header field (e.g. `F_ZS_VoucherKey`) sets `key_field` to it and
the key goes there instead (the 摘要 then stays clean).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from typing import Any, Mapping, Sequence

from connectors.vouchers.erp import PostedLine, PostedVoucher
from connectors.vouchers.model import Voucher

SUMMARY_KEY = "FEXPLANATION"
KEY_PREFIX = re.compile(r"^(ZS[0-9A-F]{16})\b\s*")
DEFAULT_DIMENSIONS = {"warehouse": "FDETAILID__FF100001", "shop": "FDETAILID__FF100002"}


def save_data(
    v: Voucher,
    *,
    book_number: str,
    group: str = "PRE001",
    currency: str = "PRE001",
    rate_type: str = "HLTX01_SYS",
    key_field: str = SUMMARY_KEY,
    dimension_fields: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The `data` object of `DynamicFormService.Save` for GL_VOUCHER."""
    dims_map = DEFAULT_DIMENSIONS if dimension_fields is None else dimension_fields
    entries = []
    for line in v.lines:
        summary = f"{v.key} {line.summary}".strip() if key_field == SUMMARY_KEY else line.summary
        amount = line.debit or line.credit
        entry: dict[str, Any] = {
            "FEXPLANATION": summary[:255],
            "FACCOUNTID": {"FNumber": line.account},
            "FCURRENCYID": {"FNumber": currency},
            "FEXCHANGERATETYPE": {"FNumber": rate_type},
            "FEXCHANGERATE": 1,
            "FAMOUNTFOR": float(amount),
            "FDEBIT": float(line.debit),
            "FCREDIT": float(line.credit),
        }
        detail = {dims_map[k]: {"FNumber": val} for k, val in line.dims if k in dims_map}
        if detail:
            entry["FDetailID"] = detail
        entries.append(entry)
    model: dict[str, Any] = {
        "FAccountBookID": {"FNumber": book_number},
        "FDate": v.date.isoformat(),
        "FBUSDATE": v.date.isoformat(),
        "FYEAR": v.date.year,
        "FPERIOD": v.date.month,
        "FVOUCHERGROUPID": {"FNumber": group},
        "FATTACHMENTS": 0,
        "FISADJUSTVOUCHER": False,
        "FEntity": entries,
    }
    if key_field != SUMMARY_KEY:
        model[key_field] = v.key
    return {
        "Creator": "",
        "NeedUpDateFields": [],
        "NeedReturnFields": ["FVOUCHERGROUPNO", "FBillNo"],
        "IsDeleteEntry": True,
        "IsVerifyBaseDataField": True,
        "IsEntryBatchFill": True,
        "IsAutoSubmitAndAudit": False,
        "InterationFlags": "",
        "Model": model,
    }


def key_filter(key: str, key_field: str = SUMMARY_KEY) -> str:
    if not re.fullmatch(r"[0-9A-Za-z_-]+", key):
        raise ValueError(f"voucher key {key!r} has characters unsafe in a FilterString")
    return f"{key_field} like '{key}%'" if key_field == SUMMARY_KEY else f"{key_field} = '{key}'"


def field_keys(key_field: str = SUMMARY_KEY) -> list[str]:
    keys = ["FVOUCHERID", "FBillNo", "FDate", "FAccountBookID.FNumber", "FDocumentStatus",
            "FEXPLANATION", "FACCOUNTID.FNumber", "FDEBIT", "FCREDIT"]
    return keys + ([key_field] if key_field != SUMMARY_KEY else [])


def parse_rows(
    rows: Sequence[Sequence[Any]], *, key_field: str = SUMMARY_KEY, books: Mapping[str, str] | None = None
) -> list[PostedVoucher]:
    """ExecuteBillQuery rows (one per entry, `field_keys` order) → one PostedVoucher per FVOUCHERID."""
    reverse = {num: entity for entity, num in (books or {}).items()}
    grouped: OrderedDict[Any, list[Sequence[Any]]] = OrderedDict()
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    out = []
    for vid, entries in grouped.items():
        first = entries[0]
        lines, key = [], ""
        for r in entries:
            summary = str(r[5] or "")
            m = KEY_PREFIX.match(summary)
            if m:
                key = key or m.group(1)
                summary = summary[m.end():]
            lines.append(PostedLine(str(r[6]), Decimal(str(r[7] or 0)).quantize(Decimal("0.01")),
                                    Decimal(str(r[8] or 0)).quantize(Decimal("0.01")), summary))
        if key_field != SUMMARY_KEY:
            key = str(first[9] or "")
        out.append(PostedVoucher(
            key=key, erp_id=str(vid), number=str(first[1]), book=reverse.get(str(first[3]), str(first[3])),
            date=date.fromisoformat(str(first[2])[:10]), status=str(first[4]), lines=tuple(lines),
        ))
    return out
