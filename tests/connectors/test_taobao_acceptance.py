"""The Taobao connector passes the acceptance kit against its TOP sandbox.

TOP answers every refusal with HTTP 200 and an ``error_response``, and has no platform idempotency
key, so four kit tests are restated in TOP's terms (same intent, TOP's wire facts):

- rate limit: the sandbox plays code 7 "App Call Limited" (not HTTP 429); the log shows ``top_code``;
- server errors: code 15 with an ``isp.*`` sub_code (not HTTP 5xx);
- delta idempotency: TOP cannot dedupe a ``type=2`` write, so the connector does (one call reaches TOP);
- polling: every call is a POST to /router/rest; the first stream is the TMC queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from connectors.base import AuthError, Connector, InstanceConfig, NotFound, PushedEvent, ValidationError
from connectors.taobao import TaobaoConnector
from connectors.taobao.testkit import ACCESS_TOKEN, APP_KEY, APP_SECRET
from connectors.testing._handle import SandboxHandle
from connectors.testing.acceptance import ConnectorAcceptanceSuite


def _calls(sandbox: SandboxHandle, since: int, api: str | None = None) -> list[dict[str, Any]]:
    entries = [e for e in sandbox.log(since) if e["path"].endswith("/router/rest")]
    return [e for e in entries if api is None or e.get("api") == api]


class TestTaobaoAcceptance(ConnectorAcceptanceSuite):
    connector_class = TaobaoConnector
    sandbox_kwargs = {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": ACCESS_TOKEN}
    forced_errors = {"auth": AuthError, "not_found": NotFound, "invalid": ValidationError}

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        # no refresh_token: a forced code 27 must surface as TokenExpired (an AuthError), not be refreshed
        return InstanceConfig(
            name="taobao-kit", platform="taobao", base_url=base_url,
            credentials={"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": ACCESS_TOKEN},
            settings={"rate_limit_per_second": 1000, "rate_limit_burst": 1000},
            listings={sku: {"num_iid": row["num_iid"], "sku_id": row["sku_id"]} for sku, row in stock.items()},
        )

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        raise NotImplementedError("TOP does not push over HTTP: messages are pulled from TMC")

    def record_id(self, event: PushedEvent) -> str:
        content = event.payload.get("content") if "content" in event.payload else event.payload
        return str(content.get("tid") or content.get("num_iid"))

    def sandbox_available(self, stock: Mapping[str, Any], sku: str) -> int:
        return int(stock[sku]["quantity"])

    # -- restated in TOP's terms ------------------------------------------------------------
    async def test_polls_every_event_once_across_a_restart(self, sandbox: SandboxHandle) -> None:
        created = [sandbox.event(**self.order_event(self.stock_sku, 1))["record_id"] for _ in range(self.paging_events)]
        mark = sandbox.last_seq()
        config = self.config_for(sandbox, settings={"tmc_batch": 10})
        first = self.connector_class(config)
        page = await first.poll("tmc", None)
        seen = list(page.events)
        await first.confirm([e.event_id for e in seen])  # durable, then confirmed
        await first.aclose()
        second = self.connector_class(config)  # restart: TMC keeps the position on its side
        try:
            while True:
                page = await second.poll("tmc", None)
                seen.extend(page.events)
                await second.confirm([e.event_id for e in page.events])
                if not page.has_more:
                    break
            ids = [e.event_id for e in seen]
            assert len(ids) == len(set(ids)), "a confirmed message came back"
            assert set(created) <= {self.record_id(e) for e in seen}, "poll missed events"
            assert len(_calls(sandbox, mark, "taobao.tmc.messages.consume")) >= 2
            assert len(_calls(sandbox, mark, "taobao.tmc.messages.confirm")) >= 2
            sandbox.event(**self.cancel_event(created[0]))
            again = (await second.poll("tmc", None)).events
            assert created[0] in {self.record_id(e) for e in again}, "an edit after the read was missed"
            assert not {e.event_id for e in again} & set(ids)
        finally:
            await second.aclose()

    async def test_orders_stream_pages_and_resumes(self, sandbox: SandboxHandle) -> None:
        created = [sandbox.event(**self.order_event(self.stock_sku, 1))["record_id"] for _ in range(self.paging_events)]
        mark = sandbox.last_seq()
        config = self.config_for(sandbox)
        first = self.connector_class(config)
        seen: list[PushedEvent] = []
        cursor: str | None = None
        for _ in range(2):
            page = await first.poll("orders", cursor)
            seen.extend(page.events)
            cursor = page.next_cursor
        await first.aclose()
        second = self.connector_class(config)
        try:
            for _ in range(100):
                page = await second.poll("orders", cursor)
                seen.extend(page.events)
                cursor = page.next_cursor
                if not page.has_more:
                    break
            assert set(created) <= {self.record_id(e) for e in seen}
            calls = _calls(sandbox, mark, "taobao.trades.sold.increment.get")
            assert len(calls) >= -(-self.paging_events // self.page_size)
            cursor_state = json.loads(cursor or "{}")
            assert cursor_state["until"] is None and cursor_state["page_token"] is None
        finally:
            await second.aclose()

    async def test_delta_write_is_idempotent(self, sandbox: SandboxHandle, connector: Connector) -> None:
        await connector.write_stock(self.stock_sku, 30, idempotency_key=uuid.uuid4().hex)
        key = uuid.uuid4().hex
        mark = sandbox.last_seq()
        results = [await connector.write_stock(self.stock_sku, None, delta=-3, idempotency_key=key) for _ in range(2)]
        assert results[0] == results[1] and results[0].quantity == 27
        assert self.sandbox_available(sandbox.stock(), self.stock_sku) == 27
        updates = _calls(sandbox, mark, "taobao.item.quantity.update")
        assert len(updates) == 1 and "type=2" in updates[0]["body"]

    async def test_respects_rate_limit_and_retries_429(self, sandbox: SandboxHandle) -> None:
        rate, burst = self.rate_limit
        connector = self.connector_class(
            self.config_for(sandbox, settings={"rate_limit_per_second": rate, "rate_limit_burst": burst}))
        try:
            mark = sandbox.last_seq()
            sandbox.faults(force_429=2, ban_seconds=1)
            for _ in range(8):
                await connector.read_stock([self.stock_sku])
        finally:
            await connector.aclose()
        log = _calls(sandbox, mark)
        codes = [e.get("top_code") for e in log]
        assert codes[:2] == [7, 7] and codes.count(7) == 2, codes
        assert all(e["status"] == 200 for e in log)  # TOP refuses with HTTP 200 + error_response
        assert len(log) == 10
        times = [e["at"] for e in log]
        for i in range(len(times)):
            for j in range(i + 1, len(times)):
                assert j - i + 1 <= burst + rate * (times[j] - times[i]) + 1

    async def test_retries_server_errors(self, sandbox: SandboxHandle, connector: Connector) -> None:
        mark = sandbox.last_seq()
        sandbox.faults(force_error={"kind": "server", "count": 2})
        assert self.stock_sku in await connector.read_stock([self.stock_sku])
        log = _calls(sandbox, mark)
        assert [e.get("top_sub_code") for e in log] == ["isp.remote-service-timeout"] * 2 + [None]

    def test_push_is_not_declared(self) -> None:
        from connectors.base import Capability

        assert Capability.PUSH not in TaobaoConnector.capabilities
        with pytest.raises(Exception, match="does not accept pushes"):
            TaobaoConnector(self.make_config("http://127.0.0.1:9", {})).verify_push({}, b"", now=0)
