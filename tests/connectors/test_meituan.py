"""The declarative Meituan 闪购 channel passes the acceptance kit against its sandbox.

Meituan signs pushes inside the form body (``sig``, ``timestamp``, ``app_id`` are parameters, and
the signature covers our callback URL), not in headers, so two kit tests are restated in Meituan's
terms (same intent): "no signature" is a form without ``sig``, and "malformed but signed" is a
correctly signed form whose JSON field is broken. ``resign`` is not used by the others.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from connectors.base import AuthError, InstanceConfig, NotFound, PushedEvent, ValidationError, VerificationError
from connectors.meituan import MeituanConnector
from connectors.testing._handle import SandboxHandle
from connectors.testing.acceptance import ConnectorAcceptanceSuite
from mappings import load_rules

APP_ID = "6000"
SECRET = "mt_kit_secret"


def md5_sig(url: str, params: Mapping[str, str], secret: str) -> str:
    """Independent restatement of Meituan's rule: md5(url ? sorted k=v & ... + secret), lower hex."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sig")
    return hashlib.md5((url + "?" + joined + secret).encode("utf-8")).hexdigest()


def push_url(base_url: str) -> str:
    return httpx.get(f"{base_url}/_sandbox/settings", timeout=5).json()["hub_url"]


def signed_form(url: str, params: Mapping[str, str], secret: str = SECRET) -> bytes:
    form = {**params}
    form["sig"] = md5_sig(url, form, secret)
    return urlencode(form).encode()


class TestMeituanAcceptance(ConnectorAcceptanceSuite):
    connector_class = MeituanConnector
    sandbox_kwargs = {"app_key": APP_ID, "app_secret": SECRET, "rate_per_second": 1000, "burst": 1000}
    forced_errors = {"auth": AuthError, "not_found": NotFound, "invalid": ValidationError}

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return InstanceConfig(
            name="meituan-kit", platform="meituan", base_url=base_url,
            credentials={"app_id": APP_ID, "app_secret": SECRET},
            settings={"app_poi_code": "MT-POI-1", "push_url": push_url(base_url)},
            listings={sku: {"app_food_code": row["app_food_code"], "sku_id": row["sku_id"]}
                      for sku, row in stock.items()},
        )

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        raise NotImplementedError("Meituan signs inside the form body; see the restated tests below")

    def record_id(self, event: PushedEvent) -> str:
        return str(event.payload["order_id"])

    # -- restated in Meituan's terms --------------------------------------------------------------
    def test_refuses_push_without_signature_headers(self, sandbox: SandboxHandle, connector: Any) -> None:
        headers, body = self._push(sandbox)
        form = dict(parse_qsl(body.decode()))
        del form["sig"]
        with pytest.raises(VerificationError) as info:
            connector.verify_push(headers, urlencode(form).encode(), now=time.time())
        assert info.value.status_code == 401 and "sig" in info.value.reason

    def test_refuses_malformed_body_even_when_signed(self, sandbox: SandboxHandle, connector: Any) -> None:
        headers, body = self._push(sandbox)
        url = connector.config.settings["push_url"]
        form = {k: v for k, v in parse_qsl(body.decode()) if k != "sig"}
        form["timestamp"] = str(int(time.time()))
        assert connector.verify_push(headers, signed_form(url, form), now=time.time()).topic == "order.create"
        form["detail"] = '[{"app_food_code": "SKU-A", '
        with pytest.raises(VerificationError) as info:
            connector.verify_push(headers, signed_form(url, form), now=time.time())
        assert info.value.status_code == 400 and "detail" in info.value.reason
        with pytest.raises(VerificationError) as info:
            connector.verify_push(headers, b'{"not json', now=time.time())
        assert info.value.status_code == 400

    # -- Meituan facts beyond the kit ----------------------------------------------------------
    def _connector(self, sandbox: SandboxHandle, **credentials: str) -> Any:
        return MeituanConnector(self.config_for(sandbox, credentials=credentials))

    async def test_requests_are_signed_and_a_wrong_secret_is_refused(self, sandbox: SandboxHandle) -> None:
        mark = sandbox.last_seq()
        good = self._connector(sandbox)
        assert (await good.read_stock(["SKU-B"]))["SKU-B"] == sandbox.stock()["SKU-B"]["available"]
        await good.aclose()
        bad = self._connector(sandbox, app_secret="wrong")
        with pytest.raises(AuthError) as info:
            await bad.read_stock(["SKU-B"])
        assert info.value.code == "703"
        await bad.aclose()
        entries = sandbox.log(mark)
        assert [e["status"] for e in entries] == [200, 200]
        query = dict(parse_qsl(entries[0]["query"]))
        assert query["app_id"] == APP_ID and abs(int(query["timestamp"]) - time.time()) < 60
        unsigned = {k: v for k, v in query.items() if k != "sig"}
        assert query["sig"] == md5_sig(sandbox.base_url + entries[0]["path"], unsigned, SECRET)

    def test_stale_and_tampered_pushes_are_refused_with_meituan_answers(self, sandbox: SandboxHandle) -> None:
        connector = self._connector(sandbox)
        before = len(sandbox.receiver)
        sandbox.event(type="stock", sku="SKU-C", available=40, pending_outbound=3)
        delivery = sandbox.receiver.since(before)[0]
        event = connector.verify_push(delivery.headers, delivery.body, now=time.time())
        assert event.topic == "retail.sku.stock" and event.payload["app_id"] == APP_ID
        assert connector.push_ack(event) == (200, b'{"data":"ok"}', "application/json")
        with pytest.raises(VerificationError) as stale:
            connector.verify_push(delivery.headers, delivery.body, now=time.time() + 601)
        assert stale.value.status_code == 401 and "timestamp" in stale.value.reason
        tampered = delivery.body.replace(b"40", b"41")
        assert tampered != delivery.body
        with pytest.raises(VerificationError) as info:
            connector.verify_push(delivery.headers, tampered, now=time.time())
        status, body, _ = connector.push_refusal(info.value)
        assert status == 401 and json.loads(body)["data"] == "ng" and json.loads(body)["error"]["code"] == 703
        elsewhere = MeituanConnector(self.config_for(sandbox, settings={"push_url": "http://127.0.0.1:1/other"}))
        with pytest.raises(VerificationError):  # the signature covers the callback URL
            elsewhere.verify_push(delivery.headers, delivery.body, now=time.time())

    def test_pushed_stock_maps_to_observations_through_the_meituan_rules(self, sandbox: SandboxHandle) -> None:
        connector = self._connector(sandbox)
        before = len(sandbox.receiver)
        sandbox.event(type="stock", sku="SKU-A", available=156, pending_outbound=12)
        delivery = sandbox.receiver.since(before)[0]
        event = connector.verify_push(delivery.headers, delivery.body, now=time.time())
        result = load_rules().apply("meituan", event.topic, event.payload, raw_event_id=1,
                                   received_at=datetime.now(UTC))
        assert not result.errors, result.errors
        got = {(o.stock_type, o.quantity) for o in result.observations if o.sku == "SKU-A"}
        assert got == {("physical_ex_picking", 156), ("reserved", 12)}

    def test_pushed_order_maps_to_an_order_event(self, sandbox: SandboxHandle) -> None:
        connector = self._connector(sandbox)
        before = len(sandbox.receiver)
        created = sandbox.event(type="order", sku="SKU-B", quantity=2)
        delivery = sandbox.receiver.since(before)[0]
        event = connector.verify_push(delivery.headers, delivery.body, now=time.time())
        assert event.event_id == f"order:{created['record_id']}:1"
        result = load_rules().apply("meituan", event.topic, event.payload, raw_event_id=2,
                                   received_at=datetime.now(UTC))
        assert not result.errors, result.errors
        assert result.orders and result.orders[0].kind == "created"
        assert [(line.sku, line.qty) for line in result.orders[0].lines] == [("SKU-B", 2)]


# -- signature vectors ------------------------------------------------------------
URL = "https://waimaiopen.meituan.com/api/v1/retail/sku/stock"


def test_signature_vector_matches_an_independent_computation() -> None:
    from connectors.declarative import SignatureRecipe
    from connectors.meituan.sandbox import meituan_sig

    params = {"app_id": "6000", "timestamp": "1777600790", "app_poi_code": "MT-POI-1",
              "food_data": '[{"app_food_code":"A","skus":[{"sku_id":"A","stock":"12"}]}]'}
    text = (URL + "?app_id=6000&app_poi_code=MT-POI-1&food_data=" + params["food_data"]
            + "&timestamp=1777600790" + "s3cret")
    expected = hashlib.md5(text.encode()).hexdigest()
    assert md5_sig(URL, params, "s3cret") == expected
    assert meituan_sig(URL, params.items(), "s3cret") == expected
    recipe = MeituanConnector.spec.auth.recipe  # type: ignore[union-attr]
    assert isinstance(recipe, SignatureRecipe)
    signed = recipe.sign("s3cret", url=URL, params=[*params.items(), ("sig", "x")], signature_param="sig")
    assert signed == expected
    assert expected == expected.lower() and len(expected) == 32
