"""The declarative engine: spec errors name file and key; a second, tiny YAML channel runs end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Request, Response, get, post

from connectors.base import Capability, InstanceConfig, TransientError, VerificationError
from connectors.declarative import SpecError, connector_from_yaml, load_spec
from connectors.testing import run_sandbox

SECRET = "tiny-secret"

TINY = """
platform: tiny
description: a TOP-like gateway with upper-case HMAC signing and cursor paging
definitions:
  hmac_concat: {algorithm: hmac_sha256, sign_string: "{concat}", case: upper, secret: app_secret}
base_path: /v2/
auth:
  type: url_signature
  app_id: {param: key, credential: app_key}
  timestamp: {param: ts, format: epoch_ms}
  signature: {$ref: "#/definitions/hmac_concat", param: sign}
errors:
  code: "$.err.code"
  codes: {E_BUSY: retry, E_AUTH: auth}
endpoints:
  read_stock:
    path: levels
    params: {ids: "{skus}"}
    records: "$.result.levels[*]"
    fields: {sku: "$.id", quantity: "$.qty"}
  write_stock:
    method: POST
    path: levels/set
    json: {id: "{sku}", qty: "{quantity}"}
    quantity: "$.result.qty"
streams:
  changes:
    path: changes
    pagination: {type: cursor, cursor_param: cursor, next: "$.result.next", size_param: limit, page_size: 2}
    records: "$.result.items[*]"
    key: "$.id"
    updated_at: "$.at"
    topics: [{topic: item.changed}]
push:
  body: json
  signature: {$ref: "#/definitions/hmac_concat", in: header, name: X-Sign, sign_string: "{timestamp}{body}"}
  timestamp: {in: header, name: X-Ts, window: 60}
  topics: [{topic: item.changed, when: "$.id", event_id: "{id}@{at}"}]
"""


def tiny_sign(params: dict[str, str]) -> str:
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest().upper()


def tiny_app() -> Litestar:
    levels = {"A": 5, "B": 7}
    items = [{"id": f"i{n}", "at": "2026-01-01T00:00:00+00:00"} for n in range(5)]
    state = {"busy": 1, "calls": 0}

    def check(request: Request[Any, Any, Any]) -> Response[Any] | None:
        state["calls"] += 1
        params = dict(request.query_params)
        if params.get("key") != "tiny-key" or params.get("sign") != tiny_sign(params):
            return Response({"ok": False, "err": {"code": "E_AUTH"}}, status_code=200)
        if state["busy"]:
            state["busy"] -= 1
            return Response({"ok": False, "err": {"code": "E_BUSY"}}, status_code=200)
        return None

    @get("/v2/levels")
    async def read(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = check(request)
        ids = request.query_params.get("ids", "").split(",")
        return refused or Response({"ok": True, "result": {"levels": [{"id": i, "qty": levels[i]} for i in ids]}})

    @post("/v2/levels/set", status_code=200)
    async def write(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = check(request)
        if refused:
            return refused
        body = json.loads(await request.body())
        levels[body["id"]] = int(body["qty"])
        return Response({"ok": True, "result": {"qty": levels[body["id"]]}})

    @get("/v2/changes")
    async def changes(request: Request[Any, Any, Any]) -> Response[Any]:
        refused = check(request)
        start = int(request.query_params.get("cursor", 0))
        limit = int(request.query_params["limit"])
        nxt = str(start + limit) if start + limit < len(items) else None
        return refused or Response({"ok": True, "result": {"items": items[start:start + limit], "next": nxt}})

    app = Litestar([read, write, changes])
    app.state.calls = state
    return app


@pytest.fixture(scope="module")
def tiny_url() -> Iterator[str]:
    with run_sandbox(tiny_app()) as url:
        yield url


def make(tmp_path: Path, text: str, name: str = "tiny.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


async def test_a_second_yaml_channel_reads_writes_polls_and_verifies(tmp_path: Path, tiny_url: str) -> None:
    cls = connector_from_yaml(make(tmp_path, TINY))
    assert cls.__name__ == "TinyConnector" and cls.streams == ("changes",)
    assert cls.capabilities == {Capability.READ_STOCK, Capability.WRITE_STOCK, Capability.POLL, Capability.PUSH}
    config = InstanceConfig("tiny-1", "tiny", tiny_url, credentials={"app_key": "tiny-key", "app_secret": SECRET},
                            settings={"retry_initial": 0.01, "retry_maximum": 0.02, "retry_jitter": 0.0})
    async with cls(config) as tiny:
        assert await tiny.read_stock(["A", "B"]) == {"A": 5, "B": 7}  # first answer E_BUSY (HTTP 200): retried
        assert (await tiny.write_stock("A", 11, idempotency_key="k1")).quantity == 11
        assert (await tiny.read_stock(["A"])) == {"A": 11}
        seen, cursor = [], None
        for _ in range(10):
            page = await tiny.poll("changes", cursor)
            seen += [e.payload["id"] for e in page.events]
            cursor = page.next_cursor
            if not page.has_more:
                break
        assert seen == [f"i{n}" for n in range(5)]
        body = b'{"id":"A","at":"x"}'
        stamp = str(int(time.time()))
        sign = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).hexdigest().upper()
        event = tiny.verify_push({"X-Sign": sign, "X-Ts": stamp}, body, now=time.time())
        assert (event.topic, event.event_id) == ("item.changed", "A@x")
        with pytest.raises(VerificationError):
            tiny.verify_push({"X-Sign": sign.lower(), "X-Ts": stamp}, body, now=time.time())
    wrong = InstanceConfig("tiny-2", "tiny", tiny_url, credentials={"app_key": "tiny-key", "app_secret": "nope"})
    async with cls(wrong) as stranger:
        with pytest.raises(Exception) as info:
            await stranger.read_stock(["A"])
        assert info.value.code == "E_AUTH" and not isinstance(info.value, TransientError)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("patch", "key", "words"),
    [
        (("method: POST", "method: FETCH"), "endpoints.write_stock.method", "must be one of"),
        (("quantity: \"$.result.qty\"", "quantiy: \"$.result.qty\""), "endpoints.write_stock.quantiy",
         "unknown key"),
        (("#/definitions/hmac_concat\", param: sign", "#/definitions/nope\", param: sign"), "auth.signature.$ref",
         "no definition 'nope'"),
        (("key: \"$.id\"", "key: \"$.[\""), "streams.changes.key", "invalid jsonpath"),
        (("sign_string: \"{timestamp}{body}\"", "sign_string: \"{nonce}{body}\""), "push.signature.sign_string",
         "unknown piece"),
        (("E_BUSY: retry", "E_BUSY: sometimes"), "errors.codes.E_BUSY.action", "must be one of"),
        (("platform: tiny", "platform: 'ti ny'"), "platform", "plain name"),
        (("page_size: 2", "page_size: two"), "streams.changes.pagination.page_size", "must be int"),
    ],
)
def test_spec_errors_name_the_file_and_the_key(tmp_path: Path, patch: tuple[str, str], key: str, words: str) -> None:
    old, new = patch
    assert old in TINY
    path = make(tmp_path, TINY.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}:"), message
    assert words in message


def test_unreadable_and_invalid_yaml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="missing.yaml: <root>: cannot read"):
        load_spec(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="bad.yaml: <root>: not valid YAML"):
        load_spec(make(tmp_path, "platform: [unclosed", "bad.yaml"))
    with pytest.raises(SpecError, match="empty.yaml: endpoints: the channel describes nothing"):
        load_spec(make(tmp_path, "platform: empty", "empty.yaml"))


def test_meituan_spec_reuses_definitions_through_ref() -> None:
    from connectors.meituan import MeituanConnector

    spec = MeituanConnector.spec
    assert spec.push is not None and spec.auth is not None
    assert spec.push.recipe == spec.auth.recipe  # type: ignore[union-attr]  # one $ref, two users
    assert spec.read_stock is not None and spec.read_stock.endpoint.params["app_poi_code"].text == (
        "{settings.app_poi_code}")
