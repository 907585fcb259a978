"""ConnectorAcceptanceSuite: the base test class every connector subclasses, run against its sandbox.

::

    class TestShopify(ConnectorAcceptanceSuite):
        connector_class = ShopifyConnector
        sandbox_kwargs = {"app_key": "k", "app_secret": "shpss_test", "access_token": "shpat_test"}

        def make_config(self, base_url, stock):
            return InstanceConfig(name="shopify-kit", platform="shopify", base_url=base_url,
                                  credentials={...}, listings={sku: {...} for sku in stock})

        def resign(self, headers, body, config):          # sign ``body`` as the platform would
            return {**headers, "x-shopify-hmac-sha256": hmac_sha256_base64(secret, body)}

Each test checks the sandbox's request log, so a connector that never made the expected call
fails instead of passing vacuously. Tests for capabilities the connector does not declare are
skipped. The sandbox must serve the common operator API (``/_sandbox/events|log|stock|faults``)
and accept ``hub_url`` in its factory.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar

import pytest

from connectors.base import (
    AuthError,
    Capability,
    ConflictError,
    Connector,
    ConnectorError,
    InstanceConfig,
    NotFound,
    PushedEvent,
    ValidationError,
    VerificationError,
)
from connectors.registry import load_object

from ._handle import Receiver, SandboxHandle
from .sandbox_server import run_sandbox

__all__ = ["ConnectorAcceptanceSuite"]

FAST_RETRIES = {"retry_attempts": 4, "retry_initial": 0.01, "retry_maximum": 0.05, "retry_jitter": 0.1,
                "retry_max_retry_after": 0.05}


class ConnectorAcceptanceSuite:
    """Subclass, set ``connector_class`` and ``sandbox_kwargs``, implement ``make_config`` and ``resign``."""

    connector_class: ClassVar[type[Connector]]
    sandbox_kwargs: ClassVar[dict[str, Any]] = {}
    signing_secret: ClassVar[str] = "app_secret"  # credential the push signature uses
    push_has_timestamp: ClassVar[bool] = True
    stock_sku: ClassVar[str] = "SKU-A"
    page_size: ClassVar[int] = 3
    paging_events: ClassVar[int] = 10
    rate_limit: ClassVar[tuple[float, float]] = (20.0, 2.0)  # (per second, burst) for the rate test
    forced_errors: ClassVar[dict[str, type[ConnectorError]]] = {
        "auth": AuthError, "not_found": NotFound, "invalid": ValidationError,
    }

    # -- hooks ------------------------------------------------------------------------------
    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        """Config of a shop on the sandbox at ``base_url``; ``stock`` is ``GET /_sandbox/stock``."""
        raise NotImplementedError

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        """``headers`` re-signed for ``body`` exactly as the platform signs pushes."""
        raise NotImplementedError

    def record_id(self, event: PushedEvent) -> str:
        """The platform record an event is about (compared with ``record_id`` from /_sandbox/events)."""
        return str(event.payload["id"])

    def sandbox_available(self, stock: Mapping[str, Any], sku: str) -> int:
        return int(stock[sku]["available"])

    def is_page_request(self, entry: Mapping[str, Any]) -> bool:
        """Whether a ``/_sandbox/log`` entry is a page read of the poll stream (default: any GET)."""
        return entry["method"] == "GET"

    def order_event(self, sku: str, quantity: int) -> dict[str, Any]:
        return {"type": "order", "sku": sku, "quantity": quantity}

    def cancel_event(self, record_id: str) -> dict[str, Any]:
        return {"type": "cancel", "order_id": int(record_id)}

    # -- fixtures ---------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def sandbox(cls) -> Iterator[SandboxHandle]:
        receiver = Receiver()
        factory = load_object(cls.connector_class.sandbox_app or "")
        with run_sandbox(receiver) as receiver_url:
            app = factory(**cls.sandbox_kwargs, hub_url=f"{receiver_url}/webhooks/kit")
            with run_sandbox(app) as base_url:
                yield SandboxHandle(base_url, receiver)

    def config_for(self, sandbox: SandboxHandle, **overrides: Any) -> InstanceConfig:
        """A fresh instance (own rate bucket) with fast retries; ``settings=``/``credentials=`` merge."""
        base = self.make_config(sandbox.base_url, sandbox.stock())
        settings = {**base.settings, **FAST_RETRIES, "page_size": self.page_size, **overrides.get("settings", {})}
        credentials = {**base.credentials, **overrides.get("credentials", {})}
        name = f"{base.name}-{uuid.uuid4().hex[:8]}"
        return dataclasses.replace(base, name=name, settings=settings, credentials=credentials)

    @pytest.fixture
    async def connector(self, sandbox: SandboxHandle) -> AsyncIterator[Connector]:
        connector = self.connector_class(self.config_for(sandbox))
        yield connector
        await connector.aclose()

    def _needs(self, *caps: Capability) -> None:
        missing = [c for c in caps if c not in self.connector_class.capabilities]
        if missing:
            pytest.skip(f"{self.connector_class.__name__} does not declare {', '.join(missing)}")

    def _push(self, sandbox: SandboxHandle) -> tuple[dict[str, str], bytes]:
        self._needs(Capability.PUSH)
        before = len(sandbox.receiver)
        sandbox.event(**self.order_event(self.stock_sku, 1))
        got = sandbox.receiver.since(before)
        assert got, "the sandbox pushed nothing to the receiver after an order event"
        return got[0].headers, got[0].body

    # -- declarations -------------------------------------------------------------------------
    def test_declares_platform_capabilities_and_sandbox(self) -> None:
        cls = self.connector_class
        assert cls.platform and isinstance(cls.capabilities, frozenset) and cls.capabilities
        assert all(isinstance(c, Capability) for c in cls.capabilities)
        assert callable(load_object(cls.sandbox_app or ""))

    # -- push ---------------------------------------------------------------------------------
    def test_accepts_signed_push(self, sandbox: SandboxHandle, connector: Connector) -> None:
        headers, body = self._push(sandbox)
        event = connector.verify_push(headers, body, now=time.time())
        assert event.event_id and event.topic
        assert connector.verify_push(headers, body, now=time.time()).event_id == event.event_id  # stable for dedupe
        status, _, _ = connector.push_ack(event)
        assert 200 <= status < 300

    def test_refuses_tampered_body(self, sandbox: SandboxHandle, connector: Connector) -> None:
        headers, body = self._push(sandbox)
        tampered = body.replace(b"1", b"2", 1) if b"1" in body else body + b" "
        with pytest.raises(VerificationError) as info:
            connector.verify_push(headers, tampered, now=time.time())
        assert info.value.refused and 400 <= info.value.status_code < 500

    def test_refuses_push_signed_with_another_secret(self, sandbox: SandboxHandle) -> None:
        headers, body = self._push(sandbox)
        stranger = self.connector_class(self.config_for(sandbox, credentials={self.signing_secret: "not-the-secret"}))
        with pytest.raises(VerificationError):
            stranger.verify_push(headers, body, now=time.time())

    def test_refuses_push_without_signature_headers(self, sandbox: SandboxHandle, connector: Connector) -> None:
        _, body = self._push(sandbox)
        with pytest.raises(VerificationError):
            connector.verify_push({"content-type": "application/json"}, body, now=time.time())

    def test_refuses_expired_push(self, sandbox: SandboxHandle, connector: Connector) -> None:
        if not self.push_has_timestamp:
            pytest.skip("this platform's pushes carry no timestamp")
        headers, body = self._push(sandbox)
        with pytest.raises(VerificationError):
            connector.verify_push(headers, body, now=time.time() + 86400)

    def test_refuses_malformed_body_even_when_signed(self, sandbox: SandboxHandle, connector: Connector) -> None:
        headers, body = self._push(sandbox)
        connector.verify_push(self.resign(headers, body, connector.config), body, now=time.time())  # resign works
        garbage = b'{"not json'
        with pytest.raises(VerificationError) as info:
            connector.verify_push(self.resign(headers, garbage, connector.config), garbage, now=time.time())
        assert 400 <= info.value.status_code < 500

    # -- poll ---------------------------------------------------------------------------------
    async def _drain(self, connector: Connector, cursor: str | None, seen: list[PushedEvent], max_pages: int) -> str:
        for _ in range(max_pages):
            page = await connector.poll(connector.streams[0], cursor)
            seen.extend(page.events)
            cursor = page.next_cursor
            if not page.has_more:
                return cursor or ""
        raise AssertionError(f"poll did not finish within {max_pages} pages")

    async def test_polls_every_event_once_across_a_restart(self, sandbox: SandboxHandle) -> None:
        self._needs(Capability.POLL)
        created = [sandbox.event(**self.order_event(self.stock_sku, 1))["record_id"] for _ in range(self.paging_events)]
        mark = sandbox.last_seq()
        config = self.config_for(sandbox)
        seen: list[PushedEvent] = []
        first = self.connector_class(config)
        cursor: str | None = None
        for _ in range(2):  # two pages, then "crash"
            page = await first.poll(first.streams[0], cursor)
            seen.extend(page.events)
            cursor = page.next_cursor
        await first.aclose()
        second = self.connector_class(config)  # restart from the saved cursor
        try:
            cursor = await self._drain(second, cursor, seen, max_pages=100)
            ids = [e.event_id for e in seen]
            assert len(ids) == len(set(ids)), "poll emitted an event twice"
            assert set(created) <= {self.record_id(e) for e in seen}, "poll missed events"
            pages = [e for e in sandbox.log(mark) if self.is_page_request(e)]
            assert len(pages) >= -(-self.paging_events // self.page_size), "connector did not page through the sandbox"
            # an edit after the read shows up again, as a new event; nothing else repeats
            sandbox.event(**self.cancel_event(created[0]))
            again: list[PushedEvent] = []
            await self._drain(second, cursor, again, max_pages=100)
            assert created[0] in {self.record_id(e) for e in again}, "an edit after the read was missed"
            assert not {e.event_id for e in again} & set(ids), "overlap repeats were not deduped"
        finally:
            await second.aclose()

    # -- stock --------------------------------------------------------------------------------
    async def test_writes_stock_and_reads_it_back(self, sandbox: SandboxHandle, connector: Connector) -> None:
        self._needs(Capability.WRITE_STOCK, Capability.READ_STOCK)
        mark = sandbox.last_seq()
        result = await connector.write_stock(self.stock_sku, 37, idempotency_key=uuid.uuid4().hex)
        assert result.quantity == 37
        assert (await connector.read_stock([self.stock_sku]))[self.stock_sku] == 37
        assert self.sandbox_available(sandbox.stock(), self.stock_sku) == 37
        assert len(sandbox.log(mark)) >= 2, "write and read never reached the sandbox"

    async def test_compare_and_set_refuses_a_stale_expectation(
        self, sandbox: SandboxHandle, connector: Connector
    ) -> None:
        self._needs(Capability.WRITE_STOCK_CAS)
        await connector.write_stock(self.stock_sku, 20, idempotency_key=uuid.uuid4().hex)
        with pytest.raises(ConflictError):
            await connector.write_stock(self.stock_sku, 25, compare_to=19, idempotency_key=uuid.uuid4().hex)
        assert self.sandbox_available(sandbox.stock(), self.stock_sku) == 20
        result = await connector.write_stock(self.stock_sku, 25, compare_to=20, idempotency_key=uuid.uuid4().hex)
        assert result.quantity == 25 and self.sandbox_available(sandbox.stock(), self.stock_sku) == 25

    async def test_delta_write_is_idempotent(self, sandbox: SandboxHandle, connector: Connector) -> None:
        self._needs(Capability.WRITE_STOCK_DELTA)
        await connector.write_stock(self.stock_sku, 30, idempotency_key=uuid.uuid4().hex)
        key = uuid.uuid4().hex
        mark = sandbox.last_seq()
        for _ in range(2):
            await connector.write_stock(self.stock_sku, None, delta=-3, idempotency_key=key)
        assert self.sandbox_available(sandbox.stock(), self.stock_sku) == 27
        assert len(sandbox.log(mark)) >= 2, "the repeated write never reached the sandbox"

    # -- limits and errors --------------------------------------------------------------------
    async def test_respects_rate_limit_and_retries_429(self, sandbox: SandboxHandle) -> None:
        self._needs(Capability.READ_STOCK)
        rate, burst = self.rate_limit
        connector = self.connector_class(
            self.config_for(sandbox, settings={"rate_limit_per_second": rate, "rate_limit_burst": burst}))
        try:
            mark = sandbox.last_seq()
            sandbox.faults(force_429=2)
            for _ in range(8):
                await connector.read_stock([self.stock_sku])
        finally:
            await connector.aclose()
        log = sandbox.log(mark)
        statuses = [e["status"] for e in log]
        assert statuses[:2] == [429, 429] and statuses.count(429) == 2, f"429s not played/retried: {statuses}"
        assert len(log) == 10, f"expected 8 calls + 2 retries, sandbox saw {len(log)}"
        times = [e["at"] for e in log]
        for i in range(len(times)):
            for j in range(i + 1, len(times)):
                allowed = burst + rate * (times[j] - times[i]) + 1  # +1: arrival jitter on loopback
                span = times[j] - times[i]
                assert j - i + 1 <= allowed, f"burst above the limit: {j - i + 1} requests in {span:.3f}s"

    async def test_retries_server_errors(self, sandbox: SandboxHandle, connector: Connector) -> None:
        self._needs(Capability.READ_STOCK)
        mark = sandbox.last_seq()
        sandbox.faults(force_error={"kind": "server", "count": 2})
        assert self.stock_sku in await connector.read_stock([self.stock_sku])
        statuses = [e["status"] for e in sandbox.log(mark)]
        assert len(statuses) == 3 and statuses[-1] < 400 and all(s >= 500 for s in statuses[:2]), statuses

    async def test_classifies_permanent_errors_without_retrying(
        self, sandbox: SandboxHandle, connector: Connector
    ) -> None:
        self._needs(Capability.READ_STOCK)
        for kind, expected in self.forced_errors.items():
            mark = sandbox.last_seq()
            sandbox.faults(force_error={"kind": kind, "count": 1})
            with pytest.raises(expected):
                await connector.read_stock([self.stock_sku])
            assert len(sandbox.log(mark)) == 1, f"{kind}: expected exactly one call (no retry)"
