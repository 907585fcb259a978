"""Kuaidi100 tracking: signature vectors, push verification, and the sandbox's poll/subscribe/push."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from connectors.base import AuthError, InstanceConfig, NotFound, RetryPolicy, VerificationError
from connectors.testing import run_sandbox
from connectors.testing._handle import Receiver
from connectors.testing.acceptance import ConnectorAcceptanceSuite
from connectors.tms import TmsConnector
from connectors.tms.sandbox import create_app
from connectors.tms.signing import push_sign, query_sign

KEY, CUSTOMER, SALT = "kd-key", "KD-CUSTOMER", "kd-salt"
FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02, jitter=0.0, max_retry_after=0.02)


def config(base_url: str, **credentials: str) -> InstanceConfig:
    return InstanceConfig(name="kd100", platform="tms", base_url=base_url,
                          credentials={"key": KEY, "customer": CUSTOMER, "salt": SALT, **credentials})


def test_query_and_push_signature_vectors() -> None:
    param = '{"com":"yuantong","num":"YT9693083639795","resultv2":"1"}'
    assert query_sign(param, "KEYxxx", "CUSTOMERxxx") == "9429C5C94C8B83C065B475A6B2CEAA40"
    push = ('{"status":"polling","message":"","lastResult":{"state":"0","ischeck":"0","com":"yuantong",'
            '"nu":"YT9693083639795","data":[]}}')
    assert push_sign(push, "mysalt") == "8B472A8BB0341D881FB16EC29925664D"


def _push_body(state: str = "3", salt: str = SALT, data: list | None = None) -> bytes:
    param = json.dumps({"status": "shutdown", "lastResult": {
        "nu": "SF100", "com": "shunfeng", "state": state, "ischeck": "1",
        "data": data if data is not None else [{"time": "2026-01-02 10:00:00", "context": "已签收"},
                                               {"time": "2026-01-01 09:00:00", "context": "已揽收"}]}},
        ensure_ascii=False)
    return urlencode({"param": param, "sign": push_sign(param, salt)}).encode()


def test_signed_push_becomes_an_event_keyed_by_number_state_and_latest_time() -> None:
    connector = TmsConnector(config("http://127.0.0.1:9"))
    event = connector.verify_push({}, _push_body(), now=time.time())
    assert event.event_id == "kuaidi100:SF100:3:2026-01-02 10:00:00"
    assert event.topic == "tracking/delivered"
    assert TmsConnector.tracking_of(event).nodes[-1].context == "已揽收"
    status, body, _ = connector.push_ack(event)
    assert status == 200 and json.loads(body) == {"result": True, "returnCode": "200", "message": "成功"}


def test_tampered_push_and_wrong_salt_are_refused() -> None:
    connector = TmsConnector(config("http://127.0.0.1:9"))
    body = _push_body()
    with pytest.raises(VerificationError) as info:
        connector.verify_push({}, body.replace(b"SF100", b"SF101"), now=time.time())
    assert info.value.status_code == 401
    with pytest.raises(VerificationError):
        connector.verify_push({}, _push_body(salt="other"), now=time.time())
    unsigned = urlencode({"param": '{"lastResult":{}}'}).encode()
    with pytest.raises(VerificationError, match="sign"):
        connector.verify_push({}, unsigned, now=time.time())


def test_signed_push_without_tracking_number_is_malformed() -> None:
    param = json.dumps({"status": "polling", "lastResult": {"state": "0", "data": []}})
    body = urlencode({"param": param, "sign": push_sign(param, SALT)}).encode()
    with pytest.raises(VerificationError) as info:
        TmsConnector(config("http://127.0.0.1:9")).verify_push({}, body, now=time.time())
    assert info.value.status_code == 400


@dataclass
class Kd100:
    base_url: str
    receiver: Receiver

    def track(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.base_url}/_sandbox/events", json={"type": "track", **body}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def kd100() -> Iterator[Kd100]:
    receiver = Receiver()
    with run_sandbox(receiver) as receiver_url, \
            run_sandbox(create_app(app_key=KEY, customer=CUSTOMER, salt=SALT, hub_url=f"{receiver_url}/kd")) as url:
        yield Kd100(url, receiver)


async def test_poll_returns_states_as_scans_arrive(kd100: Kd100) -> None:
    connector = TmsConnector(config(kd100.base_url), retry=FAST)
    with pytest.raises(NotFound):
        await connector.track("SF200", "shunfeng")
    states = []
    for state, when in [("picked_up", "2026-01-01 09:00:00"), ("in_transit", "2026-01-01 18:00:00"),
                        ("out_for_delivery", "2026-01-02 08:00:00"), ("delivered", "2026-01-02 10:00:00")]:
        await asyncio.to_thread(kd100.track, number="SF200", company="shunfeng", state=state, time=when)
        tracking = await connector.track("SF200", "shunfeng")
        states.append((tracking.state_name, tracking.latest_time, tracking.is_signed))
    assert states == [("picked_up", "2026-01-01 09:00:00", False), ("in_transit", "2026-01-01 18:00:00", False),
                      ("out_for_delivery", "2026-01-02 08:00:00", False), ("delivered", "2026-01-02 10:00:00", True)]
    assert len((await connector.track("SF200", "shunfeng")).nodes) == 4
    stranger = TmsConnector(config(kd100.base_url, key="wrong"), retry=FAST)
    with pytest.raises(AuthError):
        await stranger.track("SF200", "shunfeng")
    await connector.aclose()
    await stranger.aclose()


async def test_subscription_pushes_signed_updates_the_connector_verifies(kd100: Kd100) -> None:
    received = Receiver()
    hub = TmsConnector(config(kd100.base_url), retry=FAST)
    with run_sandbox(_Acking(received)) as callback:
        await hub.subscribe("SF300", "shunfeng", callback_url=f"{callback}/kd100/callback?orderId=SO-1")
        with pytest.raises(Exception, match="重复订阅|duplicate|501"):
            await hub.subscribe("SF300", "shunfeng", callback_url=f"{callback}/kd100/callback?orderId=SO-1")
        await asyncio.to_thread(kd100.track, number="SF300", state="picked_up", time="2026-01-01 09:00:00")
        await asyncio.to_thread(kd100.track, number="SF300", state="returning", time="2026-01-03 09:00:00")
        await asyncio.to_thread(kd100.track, number="SF300", state="returned", time="2026-01-05 09:00:00")
    events = [hub.verify_push(d.headers, d.body, now=time.time()) for d in received.since(0)]
    assert [e.topic for e in events] == ["tracking/picked_up", "tracking/returning", "tracking/returned"]
    assert [e.payload["status"] for e in events] == ["polling", "polling", "shutdown"]
    assert len({e.event_id for e in events}) == 3
    assert kd100.receiver.since(0) == []  # a subscribed number goes to its own callback, not hub_url
    await hub.aclose()


async def test_duplicate_push_knob_repeats_the_same_event(kd100: Kd100) -> None:
    httpx.post(f"{kd100.base_url}/_sandbox/events", json={"type": "knobs", "duplicate_pushes": 2, "push_retries": 0})
    await asyncio.to_thread(kd100.track, number="SF400", state="in_transit", time="2026-01-01 09:00:00")
    hub = TmsConnector(config(kd100.base_url))
    ids = [hub.verify_push(d.headers, d.body, now=time.time()).event_id for d in kd100.receiver.since(0)]
    assert ids == ["kuaidi100:SF400:0:2026-01-01 09:00:00"] * 2


def test_operator_rejects_unknown_state(kd100: Kd100) -> None:
    response = httpx.post(f"{kd100.base_url}/_sandbox/events", json={"type": "track", "number": "X", "state": "lost"})
    assert response.status_code == 400 and "unknown state" in response.text


class _Acking:
    """Wraps the kit receiver so it answers the body Kuaidi100 expects from a callback."""

    def __init__(self, inner: Receiver) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def acking_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b'{"result":true,"returnCode":"200","message":"ok"}'}
            await send(message)

        await self.inner(scope, receive, acking_send)


class TestTmsAcceptance(ConnectorAcceptanceSuite):
    connector_class = TmsConnector
    sandbox_kwargs = {"app_key": KEY, "customer": CUSTOMER, "salt": SALT, "push_retries": 0}
    signing_secret = "salt"
    push_has_timestamp = False  # Kuaidi100 pushes carry scan times, no send time

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return config(base_url)

    def order_event(self, sku: str, quantity: int) -> dict[str, Any]:
        return {"type": "track", "number": f"SF-{sku}-{time.monotonic_ns()}", "state": "picked_up"}

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        return dict(headers)  # Kuaidi100 signs inside the body (param + sign form fields)

    def test_refuses_push_without_signature_headers(self, sandbox: Any, connector: TmsConnector) -> None:
        """Kuaidi100 signs in the body: a push stripped of its ``sign`` field is the unsigned case."""
        _, body = self._push(sandbox)
        form = dict(parse_qsl(body.decode()))
        assert form.get("sign"), "the sandbox push carried no sign"
        with pytest.raises(VerificationError) as info:
            connector.verify_push({}, urlencode({"param": form["param"]}).encode(), now=time.time())
        assert info.value.status_code == 401
