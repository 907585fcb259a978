"""Fuzzing what platforms send: every mapping rule and every connector's push verifier must turn any payload
— malformed, truncated, huge, wrongly typed, unicode — into a result or a refusal, never an exception."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import registry
from connectors.base import ConnectorError, InstanceConfig
from mappings import FIXTURES_DIR, load_rules
from semantic_layer.dictionary import load_dictionary

RULES = load_rules()
DICTIONARY = load_dictionary()
NOW = datetime(2026, 11, 21, tzinfo=timezone.utc)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                    st.text(max_size=40), st.just("\u0000"), st.just("9" * 400), st.just("库存"))  # fmt: skip
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=6)),
                           max_leaves=40)  # fmt: skip


def _fixtures() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(FIXTURES_DIR.glob("*/*.json")):
        out.append((path.parent.name, json.loads(path.read_text(encoding="utf-8"))))
    return out


FIXTURES = _fixtures()


def _mutate(doc: Any, data: st.DataObject) -> Any:
    """Replace one random node of a real payload with a random JSON value (wrong types, odd values)."""
    if isinstance(doc, dict) and doc:
        key = data.draw(st.sampled_from(sorted(doc)))
        if data.draw(st.booleans()):
            return {**doc, key: data.draw(json_values)}
        return {**doc, key: _mutate(doc[key], data)}
    if isinstance(doc, list) and doc:
        i = data.draw(st.integers(0, len(doc) - 1))
        return [*doc[:i], _mutate(doc[i], data), *doc[i + 1:]]
    if isinstance(doc, str) and doc.startswith(("{", "[")):  # JSON inside a string field (Douyin data, food_data)
        try:
            return json.dumps(_mutate(json.loads(doc), data), ensure_ascii=False)
        except ValueError:
            return doc
    return data.draw(json_values)


@pytest.mark.parametrize("connector, doc", FIXTURES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(FIXTURES)])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mapping_a_mutated_real_payload_never_raises(connector: str, doc: dict[str, Any], data: st.DataObject) -> None:
    payload = _mutate(doc["payload"], data)
    result = RULES.apply(connector, doc["topic"], payload, raw_event_id=1, received_at=NOW)
    assert result.unmapped or result.errors or result.observations or result.orders or result.deltas
    DICTIONARY.canonicalize(result.observations)  # and the semantic layer takes whatever came out


@settings(max_examples=150, deadline=None)
@given(connector=st.sampled_from(sorted({c for c, _ in FIXTURES})), topic=st.text(max_size=30), payload=json_values)
def test_mapping_any_json_never_raises(connector: str, topic: str, payload: Any) -> None:
    result = RULES.apply(connector, topic, payload, raw_event_id=None, received_at=NOW)
    assert result.unmapped or result.errors or result.observations is not None


PUSHERS = ["shopify", "douyin", "qimen", "tms", "meituan"]
CREDENTIALS = {"app_key": "k", "app_secret": "s" * 32, "access_token": "t", "key": "k", "customer": "c", "salt": "s",
               "app_id": "1"}  # fmt: skip


def _connector(name: str) -> Any:
    cls = registry.load(name)
    return cls(InstanceConfig(name=f"{name}_fuzz", platform=name, base_url="http://127.0.0.1:9",
                              credentials=CREDENTIALS,
                              settings={"customer_id": "c", "push_url": "http://127.0.0.1:9/webhooks/x",
                                        "app_poi_code": "p"}))  # fmt: skip


headers = st.dictionaries(st.sampled_from(["x-shopify-hmac-sha256", "x-shopify-topic", "x-shopify-webhook-id",
                                           "event-sign", "app-id", "content-type", ":query", "x-shopify-event-id",
                                           "x-shopify-triggered-at", "x-shopify-api-version"]),
                          st.text(max_size=60), max_size=6)  # fmt: skip
bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                   st.just(b"<request><deliveryOrder>"), st.just(b"\xff\xfe\x00"))  # fmt: skip


@pytest.mark.parametrize("name", PUSHERS)
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(h=headers, body=bodies)
def test_push_verifiers_refuse_garbage_cleanly(name: str, h: dict[str, str], body: bytes) -> None:
    connector = _connector(name)
    try:
        connector.verify_push(h, body, now=time.time())
    except ConnectorError:
        return  # a refusal (VerificationError) or a configuration complaint: never a crash
    pytest.fail(f"{name} accepted an unsigned garbage push: {h!r} {body[:80]!r}")
