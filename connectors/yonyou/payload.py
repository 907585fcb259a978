"""Voucher ↔ YonBIP addVoucher / queryVouchers payloads (pure).

Our idempotency key travels in `businessId` (the doc's 业务幂等 field) AND `externalSourceDataId`
(external source id, echoed by the list API), with `externalSourceDataType = "zhongshu"`.
Lookups filter by it server-side and re-check client-side (a server that ignores the filter
still gives the right answer, only slower).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from connectors.vouchers.erp import PostedLine, PostedVoucher
from connectors.vouchers.model import Voucher

DEFAULT_DIMENSIONS = {"warehouse": "ZS_WAREHOUSE", "shop": "ZS_SHOP"}
SOURCE_TYPE = "zhongshu"


def add_voucher_body(
    v: Voucher,
    *,
    accbook: str,
    voucher_type: str = "1",
    maker_mobile: str | None = None,
    maker_email: str | None = None,
    currency: str = "CNY",
    dimension_codes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Top-level body of addVoucher (no `data` wrapper); only the non-zero side is filled per line."""
    dims = DEFAULT_DIMENSIONS if dimension_codes is None else dimension_codes
    bodies = []
    for line in v.lines:
        amount = float(line.debit or line.credit)
        body: dict[str, Any] = {
            "description": line.summary[:200],
            "accsubjectCode": line.account,
            "currencyCode": currency,
            "rateOrg": 1,
            "busidate": v.date.isoformat(),
        }
        if line.debit:
            body.update(debitOriginal=amount, debitOrg=amount)
        else:
            body.update(creditOriginal=amount, creditOrg=amount)
        aux = [{"filedCode": dims[k], "valueCode": val} for k, val in line.dims if k in dims]
        if aux:
            body["clientAuxiliaryList"] = aux
        bodies.append(body)
    out: dict[str, Any] = {
        "accbookCode": accbook,
        "voucherTypeCode": voucher_type,
        "period": f"{v.date.year:04d}-{v.date.month:02d}",
        "makeTime": v.date.isoformat(),
        "description": v.lines[0].summary[:200],
        "businessId": v.key,
        "externalSourceDataId": v.key,
        "externalSourceDataType": SOURCE_TYPE,
        "attachedBill": 0,
        "bodies": bodies,
    }
    if maker_mobile:
        out["makerMobile"] = maker_mobile
    if maker_email:
        out["makerEmail"] = maker_email
    return out


def _cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def parse_record(record: Mapping[str, Any], books: Mapping[str, str] | None = None) -> PostedVoucher:
    reverse = {code: entity for entity, code in (books or {}).items()}
    accbook = str(record.get("accbookCode") or (record.get("accbook") or {}).get("code", ""))
    lines = tuple(
        PostedLine(str(b.get("accsubjectCode")), _cents(b.get("debitOrg")), _cents(b.get("creditOrg")),
                   str(b.get("description", "")))
        for b in record.get("bodies") or []
    )
    return PostedVoucher(
        key=str(record.get("externalSourceDataId") or record.get("businessId") or ""),
        erp_id=str(record.get("voucherId", "")),
        number=f"{record.get('period', '')}-{record.get('billCode', '')}",
        book=reverse.get(accbook, accbook),
        date=date.fromisoformat(str(record.get("makeTime", ""))[:10]),
        status=str(record.get("voucherStatus", "")),
        lines=lines,
        raw=dict(record),
    )
