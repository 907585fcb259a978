"""Yonyou YonBIP (用友) ERP connector: posts GL vouchers exactly once via the open API.

    connector = YonyouConnector(InstanceConfig(
        name="yonyou-main", platform="yonyou", base_url="https://c3.yonyoucloud.com/iuap-api-gateway",
        credentials={"app_key": "...", "app_secret": "..."},
        settings={"token_url": "https://c3.yonyoucloud.com/iuap-api-auth", "accbooks": {"E1": "ZS01"},
                  "maker_mobile": "13800000000"}))
    posted = await connector.post(voucher)        # Voucher with ERP account codes

Same exactly-once algorithm as Kingdee (`connectors.vouchers.erp.post_exactly_once`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from connectors.base import InstanceConfig, RetryPolicy
from connectors.vouchers.erp import ErpConnector, PostedVoucher, VoucherRefused, post_exactly_once
from connectors.vouchers.model import Voucher
from connectors.yonyou import payload
from connectors.yonyou.client import YonyouClient

ADD = "/yonbip/fi/ficloud/openapi/voucher/addVoucher"
QUERY = "/yonbip/fi/ficloud/openapi/voucher/queryVouchers"
BY_ID = "/yonbip/EFI/openapi/voucher/queryVoucherById"

__all__ = ["VoucherRefused", "YonyouClient", "YonyouConnector"]


class YonyouConnector(ErpConnector):
    """Settings: `accbooks` (entity → 账簿 code), `voucher_type` ("1" 记账凭证), `maker_mobile` /
    `maker_email` (制单人, one required by Yonyou), `currency` (CNY), `dimension_codes`
    (dim name → clientAuxiliaryList filedCode), `token_url`, `page_size` (≤ 1000)."""

    platform: ClassVar[str] = "yonyou"
    sandbox_app: ClassVar[str | None] = "connectors.yonyou.sandbox:create_app"

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config)
        self.client = YonyouClient(config, retry=retry)
        self.accbooks: dict[str, str] = dict(config.setting("accbooks", {}) or {})
        self.page_size = min(int(config.setting("page_size", 500)), 1000)

    def accbook(self, entity: str) -> str:
        return self.accbooks.get(entity, entity)

    async def _query(self, body: dict[str, Any]) -> list[PostedVoucher]:
        out, index = [], 1
        while True:
            data = await self.client.call(QUERY, {**body, "pager": {"pageIndex": index, "pageSize": self.page_size}})
            records = (data or {}).get("recordList") or []
            out.extend(payload.parse_record(r, self.accbooks) for r in records)
            if index >= int((data or {}).get("pageCount") or 0) or not records:
                return out
            index += 1

    async def find(self, key: str, *, book: str | None = None, on: date | None = None) -> PostedVoucher | None:
        """The voucher carrying our key (narrowed by book and month when given), or None."""
        body: dict[str, Any] = {"externalSourceDataId": key}
        if book:
            body["accbookCode"] = self.accbook(book)
        if on:
            body["periodStart"] = body["periodEnd"] = f"{on.year:04d}-{on.month:02d}"
        found = [p for p in await self._query(body) if p.key == key]
        return found[0] if found else None

    async def list_posted(self, book: str, start: date, end: date) -> list[PostedVoucher]:
        body = {"accbookCode": self.accbook(book), "periodStart": f"{start.year:04d}-{start.month:02d}",
                "periodEnd": f"{end.year:04d}-{end.month:02d}"}
        return [p for p in await self._query(body) if start <= p.date <= end]

    async def post(self, voucher: Voucher) -> PostedVoucher:
        """addVoucher unless Yonyou already holds the key; VoucherRefused carries Yonyou's message."""
        return await post_exactly_once(voucher, lambda v: self.find(v.key, book=v.book, on=v.date), self._save)

    async def _save(self, voucher: Voucher) -> PostedVoucher:
        body = payload.add_voucher_body(
            voucher, accbook=self.accbook(voucher.book), voucher_type=str(self.config.setting("voucher_type", "1")),
            maker_mobile=self.config.setting("maker_mobile"), maker_email=self.config.setting("maker_email"),
            currency=str(self.config.setting("currency", "CNY")),
            dimension_codes=self.config.setting("dimension_codes"),
        )
        data = await self.client.call(ADD, body, retry=False)
        record = {**body, **(data or {})}
        return payload.parse_record(record, self.accbooks)

    async def view(self, voucher_id: str) -> PostedVoucher:
        return payload.parse_record(await self.client.call(BY_ID, {"voucherId": voucher_id}), self.accbooks)
