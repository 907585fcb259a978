"""Shared helpers for the Kingdee tests: a sandbox per test and connectors pointed at it."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal

from connectors.base import InstanceConfig, RetryPolicy
from connectors.kingdee import KingdeeConnector
from connectors.vouchers import Voucher, VoucherLine, voucher_key

APP_ID = "zs0001_" + base64.b64encode(bytes(range(40, 64))).decode()  # <clientId>_<32-char base64>
APP_SECRET = "kd-sandbox-app-secret"
ACCT = "zs-demo"
FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02, jitter=0.0)


def connector(base_url: str, *, auth: str = "password", timeout: float = 5.0, **overrides: object) -> KingdeeConnector:
    credentials = {"password": "888888", "app_id": APP_ID, "app_secret": APP_SECRET}
    credentials.update({k: str(v) for k, v in overrides.pop("credentials", {}).items()})  # type: ignore[union-attr]
    settings = {"auth": auth, "acct_id": ACCT, "username": "administrator", "books": {"E1": "001"},
                "timeout": timeout, **overrides}
    config = InstanceConfig(name="kingdee-test", platform="kingdee", base_url=f"{base_url}/k3cloud/",
                            credentials=credentials, settings=settings)
    return KingdeeConnector(config, retry=FAST)


def voucher(tag: str, *, debit: str = "12.50", account: str = "1405", day: date = date(2024, 5, 6)) -> Voucher:
    lines = (
        VoucherLine(account, Decimal(debit), Decimal(0), f"采购入库 EO-{tag} SKU-A×5", (("warehouse", "W1"),), (tag,)),
        VoucherLine("2202.02", Decimal(0), Decimal(debit), f"采购入库 EO-{tag} SKU-A×5", (), (tag,)),
    )
    return Voucher(key=voucher_key("test", tag), book="E1", date=day, lines=lines)
