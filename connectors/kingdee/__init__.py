"""Kingdee K/3 Cloud (金蝶云·星空) ERP connector: posts GL_VOUCHER vouchers exactly once.

    connector = KingdeeConnector(InstanceConfig(
        name="kingdee-main", platform="kingdee", base_url="https://erp.example.com/k3cloud/",
        credentials={"password": "..."} or {"app_id": "...", "app_secret": "..."},
        settings={"auth": "password", "acct_id": "...", "username": "...", "books": {"E1": "001"}}))
    posted = await connector.post(voucher)          # Voucher with ERP account codes
    again = await connector.find(voucher.key)       # PostedVoucher | None
    period = await connector.list_posted("E1", date(2024, 5, 1), date(2024, 5, 31))

Exactly once: `post` looks the key up first; a Save that times out is followed by a lookup, and
only a voucher not found is reported as TransientError (the hub retries, which looks up again).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from connectors.base import InstanceConfig, RetryPolicy, ValidationError
from connectors.kingdee import payload
from connectors.kingdee.client import KingdeeClient
from connectors.vouchers.erp import ErpConnector, PostedLine, PostedVoucher, VoucherRefused, post_exactly_once
from connectors.vouchers.model import Voucher

FORM_ID = "GL_VOUCHER"

__all__ = ["KingdeeClient", "KingdeeConnector", "VoucherRefused"]


class KingdeeConnector(ErpConnector):
    """Settings: `auth`, `acct_id`, `username`, `lcid`, `org_num`, `books` (entity → 账簿 number),
    `voucher_group` (PRE001 = 记), `currency` (PRE001 = CNY), `key_field` (FEXPLANATION or a custom
    header field), `dimension_fields` (dim name → FDetailID flex key), `auto_audit` (Submit+Audit)."""

    platform: ClassVar[str] = "kingdee"
    sandbox_app: ClassVar[str | None] = "connectors.kingdee.sandbox:create_app"

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config)
        self.client = KingdeeClient(config, retry=retry)
        self.books: dict[str, str] = dict(config.setting("books", {}) or {})
        self.key_field = str(config.setting("key_field", payload.SUMMARY_KEY))

    def book_number(self, entity: str) -> str:
        return self.books.get(entity, entity)

    async def find(self, key: str, *, book: str | None = None, on: date | None = None) -> PostedVoucher | None:
        """The voucher carrying our idempotency `key`, read back from Kingdee, or None."""
        try:
            flt = payload.key_filter(key, self.key_field)
        except ValueError as exc:
            raise ValidationError(str(exc), instance=self.name) from None
        rows = await self.client.bill_query(FORM_ID, payload.field_keys(self.key_field), flt)
        found = [p for p in payload.parse_rows(rows, key_field=self.key_field, books=self.books) if p.key == key]
        return found[0] if found else None

    async def list_posted(self, book: str, start: date, end: date) -> list[PostedVoucher]:
        """Every voucher of entity `book` dated within [start, end] (reconciliation read-back)."""
        flt = (f"FAccountBookID.FNumber = '{self.book_number(book)}' and FDate >= '{start.isoformat()}' "
               f"and FDate <= '{end.isoformat()}'")
        rows = await self.client.bill_query(FORM_ID, payload.field_keys(self.key_field), flt)
        return payload.parse_rows(rows, key_field=self.key_field, books=self.books)

    async def post(self, voucher: Voucher) -> PostedVoucher:
        """Save the voucher unless Kingdee already holds its key; VoucherRefused carries Kingdee's words."""
        return await post_exactly_once(voucher, lambda v: self.find(v.key), self._save)

    async def _save(self, voucher: Voucher) -> PostedVoucher:
        data = payload.save_data(
            voucher, book_number=self.book_number(voucher.book),
            group=str(self.config.setting("voucher_group", "PRE001")),
            currency=str(self.config.setting("currency", "PRE001")), key_field=self.key_field,
            dimension_fields=self.config.setting("dimension_fields"),
        )
        result = await self.client.save(FORM_ID, data)
        erp_id = str(result["Id"])
        audited = bool(self.config.setting("auto_audit", False))
        if audited:
            await self.client.submit(FORM_ID, [erp_id])
            await self.client.audit(FORM_ID, [erp_id])
        return PostedVoucher(
            key=voucher.key, erp_id=erp_id, number=str(result.get("Number", "")), book=voucher.book,
            date=voucher.date, status="C" if audited else "A",
            lines=tuple(PostedLine(ln.account, ln.debit, ln.credit, ln.summary) for ln in voucher.lines),
            raw=result,
        )
