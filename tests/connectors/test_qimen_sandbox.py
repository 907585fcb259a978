"""The sandbox WMS end to end on 127.0.0.1: the connector creates orders, the WMS confirms them to a
receiver started by the test, with the knobs (short ship, split, duplicate, out of order) in play."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from connectors.base import ConflictError, InstanceConfig, NotFound, RetryPolicy, ValidationError
from connectors.qimen import QimenConnector
from connectors.qimen.messages import parse_order_confirm, parse_stock_changes
from connectors.qimen.sandbox import create_app
from connectors.qimen.sandbox.receiver import QimenReceiver
from connectors.testing import run_sandbox

FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02, jitter=0.0, max_retry_after=0.02)
STOCK = [
    {"warehouseCode": "WH01", "itemCode": "SKU-A", "quantity": 5, "batchCode": "LATE", "expireDate": "2027-06-01",
     "productDate": "2026-06-01"},
    {"warehouseCode": "WH01", "itemCode": "SKU-A", "quantity": 3, "batchCode": "EARLY", "expireDate": "2026-12-01",
     "productDate": "2025-12-01"},
    {"warehouseCode": "WH01", "itemCode": "SKU-B", "quantity": 10},
]


def make_config(base_url: str, fmt: str = "xml", secret: str = "wms-secret") -> InstanceConfig:
    return InstanceConfig(name=f"qimen-{fmt}", platform="qimen", base_url=base_url,
                          credentials={"app_key": "wms-key", "app_secret": secret},
                          settings={"customer_id": "CUST01", "format": fmt, "warehouse_code": "WH01"})


@dataclass
class Wms:
    base_url: str
    receiver: QimenReceiver
    connector: QimenConnector

    def event(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.base_url}/_sandbox/events", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def stock(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/_sandbox/stock", timeout=10).json()


@pytest.fixture(params=["xml", "json"])
def wms(request: pytest.FixtureRequest) -> Iterator[Wms]:
    fmt = request.param
    hub_side = QimenConnector(make_config("http://127.0.0.1:9", fmt))  # verifies inbound only
    receiver = QimenReceiver(connector=hub_side)
    with run_sandbox(receiver) as hub_url:
        app = create_app(app_key="wms-key", app_secret="wms-secret", hub_url=f"{hub_url}/qimen/callback",
                         initial_stock=STOCK, confirm_delay_s=0.05, push_format=fmt, push_retries=2)
        with run_sandbox(app) as base_url:
            yield Wms(base_url, receiver, QimenConnector(make_config(base_url, fmt), retry=FAST))


def confirms(calls: list, method: str = "deliveryorder.confirm") -> list:
    return [parse_order_confirm(method, c.event.payload) for c in calls if c.event and c.event.topic == method]


async def test_delivery_order_is_confirmed_after_the_delay_with_fefo_batches(wms: Wms) -> None:
    accepted = await wms.connector.create_delivery_order(
        "SO-1", warehouse_code="WH01", lines=[{"itemCode": "SKU-A", "planQty": 4}, {"itemCode": "SKU-B", "planQty": 1}])
    assert accepted.wms_order_id.startswith("WD")
    calls = await asyncio.to_thread(wms.receiver.wait_for, 1)
    assert [c.refused for c in calls] == [None]
    (confirm,) = confirms(calls)
    assert confirm.order_code == "SO-1" and confirm.order_id == accepted.wms_order_id and confirm.is_final
    assert confirm.express_code and confirm.logistics_code == "SF"
    line_a = next(line for line in confirm.lines if line.item_code == "SKU-A")
    assert line_a.actual_qty == 4
    assert [(b.batch_code, b.quantity) for b in line_a.batches] == [("EARLY", 3), ("LATE", 1)]
    assert calls[0].event.event_id == f"qimen:deliveryorder.confirm:SO-1:0:{accepted.wms_order_id}-C1"
    await wms.connector.aclose()


async def test_inventory_snapshot_reflects_shipments(wms: Wms) -> None:
    before = {(r.item_code, r.batch_code): r.quantity for r in await wms.connector.inventory_snapshot()}
    assert before == {("SKU-A", "EARLY"): 3, ("SKU-A", "LATE"): 5, ("SKU-B", ""): 10}
    wms.event(type="knobs", confirm_delay_s=None)  # ship only when told, so the locked state is observable
    await wms.connector.create_delivery_order("SO-2", warehouse_code="WH01", lines=[{"itemCode": "SKU-B", "planQty": 4}])
    assert (await wms.connector.read_stock(["SKU-B"])) == {"SKU-B": 6}  # locked, not yet shipped
    locked = [r for r in await wms.connector.inventory_snapshot("WH01", ["SKU-B"]) if r.item_code == "SKU-B"]
    assert (locked[0].quantity, locked[0].lock_quantity) == (10, 4)
    wms.event(type="confirm", orderCode="SO-2")
    assert len(wms.receiver.snapshot()) == 1
    after = [r for r in await wms.connector.inventory_snapshot("WH01", ["SKU-B"])]
    assert [(r.quantity, r.lock_quantity) for r in after] == [(6, 0)]
    await wms.connector.aclose()


async def test_short_ship_ratio_and_per_order_override(wms: Wms) -> None:
    wms.event(type="knobs", confirm_delay_s=None, short_ship_ratio=0.5)
    await wms.connector.create_delivery_order("SO-3", warehouse_code="WH01", lines=[{"itemCode": "SKU-B", "planQty": 5}])
    await wms.connector.create_delivery_order("SO-4", warehouse_code="WH01", lines=[{"itemCode": "SKU-B", "planQty": 3}])
    wms.event(type="short_ship", orderCode="SO-4", lines={"SKU-B": 1})
    wms.event(type="confirm", orderCode="SO-3")
    wms.event(type="confirm", orderCode="SO-4")
    calls = wms.receiver.snapshot()
    shipped = {c.order_code: (c.lines[0].plan_qty, c.lines[0].actual_qty) for c in confirms(calls)}
    assert shipped == {"SO-3": (5, 2), "SO-4": (3, 1)}
    rows = await wms.connector.inventory_snapshot("WH01", ["SKU-B"])
    assert [(r.quantity, r.lock_quantity) for r in rows] == [(7, 0)]  # short units released, not lost
    await wms.connector.aclose()


async def test_split_duplicate_and_out_of_order_confirms(wms: Wms) -> None:
    wms.event(type="knobs", split_shipments=2, duplicate_confirms=2, out_of_order=True)
    accepted = await wms.connector.create_delivery_order(
        "SO-5", warehouse_code="WH01", lines=[{"itemCode": "SKU-B", "planQty": 4}])
    calls = wms.receiver.snapshot()  # out_of_order: the confirms arrived before create was answered
    assert len(calls) == 4 and all(c.refused is None for c in calls)
    ids = [c.event.event_id for c in calls]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    parsed = confirms(calls)
    assert [p.confirm_type for p in parsed] == ["0", "0", "1", "1"]  # final first: reverse order
    assert sum(p.lines[0].actual_qty for p in parsed[::2]) == 4
    assert all(p.order_id == accepted.wms_order_id for p in parsed)
    await wms.connector.aclose()


async def test_cancel_before_shipment_releases_and_after_is_refused(wms: Wms) -> None:
    wms.event(type="knobs", confirm_delay_s=None)
    await wms.connector.create_delivery_order("SO-6", warehouse_code="WH01", lines=[{"itemCode": "SKU-B", "planQty": 2}])
    await wms.connector.cancel_order("SO-6", warehouse_code="WH01")
    assert (await wms.connector.read_stock(["SKU-B"])) == {"SKU-B": 10}
    assert wms.event(type="confirm", orderCode="SO-6") == {"pushes": []}  # a cancelled order never ships
    await wms.connector.create_delivery_order("SO-7", warehouse_code="WH01", lines=[{"itemCode": "SKU-B", "planQty": 1}])
    wms.event(type="confirm", orderCode="SO-7")
    with pytest.raises(ConflictError):
        await wms.connector.cancel_order("SO-7", warehouse_code="WH01")
    with pytest.raises(NotFound):
        await wms.connector.cancel_order("NOPE", warehouse_code="WH01")
    await wms.connector.aclose()


async def test_entry_order_short_and_split_receipt(wms: Wms) -> None:
    wms.event(type="knobs", confirm_delay_s=None)
    accepted = await wms.connector.create_entry_order(
        "PO-1", warehouse_code="WH01",
        lines=[{"itemCode": "SKU-C", "planQty": 10, "batchCode": "C1", "expireDate": "2027-01-01"}])
    assert accepted.wms_order_id.startswith("WE")
    wms.event(type="receipt", orderCode="PO-1", lines=[{"itemCode": "SKU-C", "inventoryType": "ZP", "actualQty": 8},
                                                       {"itemCode": "SKU-C", "inventoryType": "CC", "actualQty": 1}])
    wms.event(type="confirm", orderCode="PO-1")
    (confirm,) = confirms(wms.receiver.snapshot(), "entryorder.confirm")
    assert [(ln.inventory_type, ln.actual_qty, ln.batch_code) for ln in confirm.lines] == [
        ("ZP", 8, "C1"), ("CC", 1, "C1")]
    rows = {(r.inventory_type, r.quantity) for r in await wms.connector.inventory_snapshot("WH01", ["SKU-C"])}
    assert rows == {("ZP", 8), ("CC", 1)}
    await wms.connector.aclose()


async def test_over_receipt_knob_and_return_order(wms: Wms) -> None:
    wms.event(type="knobs", over_receipt_ratio=0.2, return_damaged_ratio=0.5)
    await wms.connector.create_entry_order("PO-2", warehouse_code="WH01", lines=[{"itemCode": "SKU-D", "planQty": 10}])
    await wms.connector.create_return_order("RT-1", warehouse_code="WH01", pre_delivery_order_code="SO-1",
                                            lines=[{"itemCode": "SKU-B", "planQty": 2}])
    calls = await asyncio.to_thread(wms.receiver.wait_for, 2)
    (entry,) = confirms(calls, "entryorder.confirm")
    assert entry.lines[0].actual_qty == 12
    (ret,) = confirms(calls, "returnorder.confirm")
    assert ret.related_order_code == "SO-1"
    assert sorted((ln.inventory_type, ln.actual_qty) for ln in ret.lines) == [("CC", 1), ("ZP", 1)]
    await wms.connector.aclose()


async def test_stock_change_and_count_are_reported(wms: Wms) -> None:
    wms.event(type="stock_change", warehouseCode="WH01", itemCode="SKU-B", quantity=-2, orderType="BFCK")
    result = wms.event(type="stock_count", warehouseCode="WH01", itemCode="SKU-B", counted=9)
    assert result["delta"] == 1
    calls = wms.receiver.snapshot()
    changes = [parse_stock_changes(c.event.payload)[0] for c in calls if c.event.topic == "stockchange.report"]
    assert [(ch.order_type, ch.quantity) for ch in changes] == [("BFCK", -2), ("QTRK", 1)]
    assert len({c.event.event_id for c in calls}) == 2
    assert (await wms.connector.read_stock(["SKU-B"])) == {"SKU-B": 9}
    wms.event(type="stock_change", itemCode="SKU-B", quantity=5, report=False)  # silent drift
    assert len(wms.receiver.snapshot()) == 2 and (await wms.connector.read_stock(["SKU-B"])) == {"SKU-B": 14}
    await wms.connector.aclose()


async def test_hub_failure_is_redelivered_until_success(wms: Wms) -> None:
    wms.receiver.fail_first = 2
    wms.event(type="stock_change", itemCode="SKU-B", quantity=1)
    calls = wms.receiver.snapshot()
    assert len(calls) == 3 and len({c.event.event_id for c in calls}) == 1
    log = httpx.get(f"{wms.base_url}/_sandbox/log", timeout=10).json()
    assert log["pushes"][-1]["delivered"] is True and len(log["pushes"][-1]["attempts"]) == 3


async def test_wrong_secret_and_stale_calls_are_refused_by_the_wms(wms: Wms) -> None:
    stranger = QimenConnector(make_config(wms.base_url, secret="not-it"), retry=FAST)
    with pytest.raises(Exception) as info:
        await stranger.inventory_snapshot()
    assert "invalid signature" in str(info.value)
    await stranger.aclose()
    params, body = wms.connector.client.build("inventory.query", {"criteriaList": [{"warehouseCode": "WH01"}]})
    stale = {**params, "timestamp": "2020-01-01 00:00:00"}
    answer = httpx.post(f"{wms.base_url}/router/qimen/service", params=stale, content=body.encode(), timeout=10)
    assert "<code>31</code>" in answer.text or '"code":"31"' in answer.text
    await wms.connector.aclose()


async def test_bad_create_bodies_get_a_failure_envelope(wms: Wms) -> None:
    with pytest.raises(ValidationError, match="invalid arguments"):
        await wms.connector.client.create_delivery_order({"deliveryOrder": {"warehouseCode": "WH01"},
                                                          "orderLines": [{"itemCode": "A", "planQty": 1}]})
    with pytest.raises(ValidationError, match="unknown warehouse"):
        await wms.connector.create_delivery_order("SO-X", warehouse_code="WH99", lines=[{"itemCode": "A", "planQty": 1}])
    params, _ = wms.connector.client.build("deliveryorder.create", {})
    garbage = b"<request><deliveryOrder>"
    from connectors.qimen.signing import sign

    params["sign"] = sign(params, garbage, "wms-secret")
    answer = httpx.post(f"{wms.base_url}/router/qimen/service", params=params, content=garbage, timeout=10)
    assert answer.status_code == 200 and "failure" in answer.text and "41" in answer.text
    await wms.connector.aclose()


async def test_rate_limit_fault_is_retried(wms: Wms) -> None:
    httpx.post(f"{wms.base_url}/_sandbox/faults", json={"force_429": 1}, timeout=10)
    assert (await wms.connector.read_stock(["SKU-B"])) == {"SKU-B": 10}
    log = httpx.get(f"{wms.base_url}/_sandbox/log", timeout=10).json()["requests"]
    assert [entry["code"] for entry in log[-2:]] == ["7", "0"]
    await wms.connector.aclose()


def test_hub_url_must_be_loopback() -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        create_app(app_key="k", app_secret="s", hub_url="http://example.com/hook")


async def test_query_params_in_hub_url_are_kept_and_signed() -> None:
    hub_side = QimenConnector(make_config("http://127.0.0.1:9"))
    receiver = QimenReceiver(connector=hub_side)
    with run_sandbox(receiver) as hub_url:
        app = create_app(app_key="wms-key", app_secret="wms-secret", hub_url=f"{hub_url}/qimen?tenant=t1")
        with run_sandbox(app) as base_url:
            httpx.post(f"{base_url}/_sandbox/events", json={"type": "stock_change", "itemCode": "SKU-Z", "quantity": 3},
                       timeout=10)
    (call,) = receiver.snapshot()
    assert call.query["tenant"] == "t1" and call.refused is None and call.event is not None
