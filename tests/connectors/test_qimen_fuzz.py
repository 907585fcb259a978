"""Whatever a correctly signed caller sends, the sandbox WMS answers a Qimen envelope, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.qimen import codec
from connectors.qimen.sandbox import create_app
from connectors.qimen.signing import signed_params, system_params
from connectors.testing import run_sandbox

values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["deliveryOrder", "entryOrder", "orderLines", "orderLine", "itemCode", "planQty",
                         "warehouseCode", "deliveryOrderCode", "entryOrderCode", "criteriaList", "orderCode"]),
        inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_sandbox(create_app(app_key="k", app_secret="s", confirm_delay_s=None)) as url:
        yield url


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["deliveryorder.create", "entryorder.create", "returnorder.create", "order.cancel",
                               "inventory.query"]),
       document=st.dictionaries(st.sampled_from(["deliveryOrder", "entryOrder", "returnOrder", "orderLines",
                                                 "criteriaList", "orderCode", "warehouseCode"]), values, max_size=4),
       fmt=st.sampled_from(["xml", "json"]))
def test_any_signed_body_gets_an_envelope(base_url: str, method: str, document: dict, fmt: str) -> None:
    body = json.dumps(document) if fmt == "json" else codec.to_xml({k: v for k, v in document.items()})
    params = signed_params(system_params(method=method, app_key="k", customer_id="CUST01",
                                         now=datetime.now(timezone.utc), fmt=fmt), body, "s")
    response = httpx.post(f"{base_url}/router/qimen/service", params=params, content=body.encode(), timeout=10)
    assert response.status_code == 200
    answer = codec.decode(response.content, fmt, "response")
    assert answer["flag"] in ("success", "failure")
