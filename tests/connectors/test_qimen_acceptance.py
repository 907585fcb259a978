"""The Qimen connector passes the acceptance kit against its sandbox WMS.

Two adaptations, both because Qimen is not a webhook-in-headers platform: the push signature
covers the query string, so the kit's receiver is wrapped to hand the query on as the ``:query``
pseudo-header; and Qimen answers errors as HTTP 200 with ``flag=failure`` and a code (7 rate
limit, 15 remote error), so the rate-limit and server-error tests read codes, not HTTP statuses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from connectors.base import InstanceConfig
from connectors.qimen import QimenConnector
from connectors.qimen.signing import sign
from connectors.registry import load_object
from connectors.testing._handle import Receiver, SandboxHandle
from connectors.testing.acceptance import ConnectorAcceptanceSuite
from connectors.testing.sandbox_server import run_sandbox

KEY, SECRET = "kit-key", "kit-secret"


class QueryToHeader:
    """ASGI wrapper: copies the raw query string into a ``:query`` header before the kit receiver."""

    def __init__(self, inner: Receiver) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "headers": [*scope["headers"], (b":query", scope.get("query_string", b""))]}
        await self.inner(scope, receive, send)


class TestQimenAcceptance(ConnectorAcceptanceSuite):
    connector_class = QimenConnector
    sandbox_kwargs = {"app_key": KEY, "app_secret": SECRET, "push_retries": 0, "confirm_delay_s": None,
                      "initial_stock": [{"warehouseCode": "WH01", "itemCode": "SKU-A", "quantity": 50}]}

    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls) -> Iterator[SandboxHandle]:
        receiver = Receiver()
        factory = load_object(cls.connector_class.sandbox_app or "")
        with run_sandbox(QueryToHeader(receiver)) as receiver_url:
            app = factory(**cls.sandbox_kwargs, hub_url=f"{receiver_url}/webhooks/kit")
            with run_sandbox(app) as base_url:
                yield SandboxHandle(base_url, receiver)

    def make_config(self, base_url: str, stock: Any) -> InstanceConfig:
        return InstanceConfig(name="qimen-kit", platform="qimen", base_url=base_url,
                              credentials={"app_key": KEY, "app_secret": SECRET},
                              settings={"customer_id": "CUST01", "warehouse_code": "WH01"})

    def order_event(self, sku: str, quantity: int) -> dict[str, Any]:
        return {"type": "stock_change", "warehouseCode": "WH01", "itemCode": sku, "quantity": -quantity,
                "orderType": "QTCK"}

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        query = dict(parse_qsl(headers[":query"], keep_blank_values=True))
        query["sign"] = sign(query, body, config.credentials["app_secret"], query.get("sign_method", "md5"))
        return {**headers, ":query": urlencode(query)}

    def sandbox_available(self, stock: Any, sku: str) -> int:
        return sum(int(r["quantity"]) - int(r["lockQuantity"]) for r in stock
                   if r["itemCode"] == sku and r["inventoryType"] == "ZP")

    async def test_respects_rate_limit_and_retries_429(self, sandbox: SandboxHandle) -> None:
        rate, burst = self.rate_limit
        connector = self.connector_class(
            self.config_for(sandbox, settings={"rate_limit_per_second": rate, "rate_limit_burst": burst}))
        try:
            mark = sandbox.last_seq()
            sandbox.faults(force_429=2)
            for _ in range(8):
                assert (await connector.read_stock([self.stock_sku]))[self.stock_sku] > 0
        finally:
            await connector.aclose()
        log = sandbox.log(mark)
        codes = [e["code"] for e in log]
        assert codes[:2] == ["7", "7"] and codes.count("7") == 2, f"rate limits not played/retried: {codes}"
        assert len(log) == 10, f"expected 8 calls + 2 retries, sandbox saw {len(log)}"
        times = [e["at"] for e in log]
        for i in range(len(times)):
            for j in range(i + 1, len(times)):
                assert j - i + 1 <= burst + rate * (times[j] - times[i]) + 1, "burst above the limit"

    async def test_retries_server_errors(self, sandbox: SandboxHandle, connector: QimenConnector) -> None:
        mark = sandbox.last_seq()
        sandbox.faults(force_error={"kind": "server", "count": 2})
        assert self.stock_sku in await connector.read_stock([self.stock_sku])
        codes = [e["code"] for e in sandbox.log(mark)]
        assert codes == ["15", "15", "0"], codes

    def test_push_ack_is_the_qimen_success_envelope(self, sandbox: SandboxHandle, connector: QimenConnector) -> None:
        headers, body = self._push(sandbox)
        event = connector.verify_push(headers, body, now=time.time())
        assert event.topic == "stockchange.report" and event.event_id.startswith("qimen:stockchange.report:CHG")
        status, answer, content_type = connector.push_ack(event)
        assert status == 200 and b"<flag>success</flag>" in answer and content_type.startswith("text/xml")
