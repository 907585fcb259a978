"""``scaffold(name, target_dir)``: write a connector plugin package that passes the acceptance kit as is.

What ``zhongshu connector new acme`` writes (``target_dir/zhongshu-acme/``)::

    pyproject.toml                  entry point  [project.entry-points."zhongshu.connectors"] acme = ...
    zhongshu_acme/__init__.py       AcmeConnector, built from connector.yaml (declarative)
    zhongshu_acme/connector.yaml    bearer-token JSON API, page paging, HMAC-signed JSON webhooks
    zhongshu_acme/mappings/acme/v1.yaml  mapping rules for its order and stock payloads
    zhongshu_acme/sandbox.py        a Litestar sandbox speaking that wire format (+ /_sandbox/ operator API)
    tests/test_acme.py              ConnectorAcceptanceSuite subclass

The integrator then edits the YAML and the sandbox towards the real platform, keeping the tests green.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

__all__ = ["ScaffoldError", "scaffold"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class ScaffoldError(ValueError):
    """The name is unusable or the target exists; the message says which."""


def scaffold(name: str, target_dir: Path) -> Path:
    """Write the plugin package for connector ``name`` under ``target_dir``; return the project folder."""
    if not _NAME.match(name):
        raise ScaffoldError(f"connector name must match {_NAME.pattern} (lower case, digits, _), got {name!r}")
    project = Path(target_dir) / f"zhongshu-{name.replace('_', '-')}"
    if project.exists():
        raise ScaffoldError(f"{project} already exists; pick another --dir or remove it")
    pkg = f"zhongshu_{name}"
    values = {
        "name": name, "pkg": pkg, "Class": "".join(p.capitalize() for p in name.split("_")) + "Connector",
        "header": name.replace("_", "-").title(),
    }
    files = {
        "pyproject.toml": PYPROJECT, f"{pkg}/__init__.py": INIT, f"{pkg}/connector.yaml": CONNECTOR_YAML,
        f"{pkg}/mappings/{name}/v1.yaml": MAPPING_YAML, f"{pkg}/sandbox.py": SANDBOX, f"tests/test_{name}.py": TESTS,
        "README.md": README,
    }
    for relative, template in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(values), encoding="utf-8")
    return project


PYPROJECT = '''[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "zhongshu-$name"
version = "0.1.0"
description = "Zhongshu connector plugin: $name"
requires-python = ">=3.11"
dependencies = ["zhongshu"]

[project.entry-points."zhongshu.connectors"]
$name = "$pkg:$Class"

[tool.setuptools]
packages = ["$pkg"]

[tool.setuptools.package-data]
$pkg = ["*.yaml", "mappings/*/*.yaml"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "session"
asyncio_default_test_loop_scope = "session"
testpaths = ["tests"]
filterwarnings = ["ignore::litestar.exceptions.LitestarDeprecationWarning"]
'''

README = '''# zhongshu-$name

A Zhongshu connector plugin. Install with `pip install -e .`, then `zhongshu connectors list` shows
`$name`. `pytest tests` runs the connector acceptance kit against `$pkg/sandbox.py`.

Edit `$pkg/connector.yaml` (auth, endpoints, paging, push signing, error codes) and the sandbox
towards the real platform; keep the tests green.
'''

INIT = '''"""$Class: the $name channel, described by connector.yaml (see connectors.declarative)."""

from __future__ import annotations

from pathlib import Path

from connectors.declarative import connector_from_yaml

__all__ = ["$Class"]

$Class = connector_from_yaml(
    Path(__file__).with_name("connector.yaml"), class_name="$Class", module=__name__
)
'''

CONNECTOR_YAML = '''# The $name channel as data. Each block is documented in connectors/declarative/<block>.py.
spec_version: 1
platform: $name
description: $name channel (bearer token JSON API, HMAC-signed JSON webhooks)
sandbox_app: $pkg.sandbox:create_app
mapping_dir: $name

definitions:
  json_records: {type: page, page_param: page, size_param: per_page, start: 1, page_size: 50, has_more: "$$.has_more"}

base_path: /api/
auth: {type: bearer, credential: access_token}
rate_limit: {per_second: 10, burst: 10}

errors:
  code: "$$.error.code"
  message: "$$.error.message"
  codes:
    busy: retry
    unauthorized: auth
    not_found: not_found
    invalid: invalid
    throttled: rate_limited

endpoints:
  read_stock:
    method: GET
    path: stock
    params: {skus: "{skus}"}
    records: "$$.items[*]"
    match: "{listing.item_id|sku}"
    fields: {sku: "$$.sku", quantity: "$$.available"}
  write_stock:
    method: PUT
    path: "stock/{listing.item_id|sku}"
    json: {available: "{quantity}", idempotency_key: "{idempotency_key}"}
    quantity: "$$.item.available"

streams:
  orders:
    method: GET
    path: orders
    params: {updated_min: "{since|none}", updated_max: "{until}"}
    time_format: epoch_s
    pagination: {$$ref: "#/definitions/json_records"}
    records: "$$.orders[*]"
    key: "$$.id"
    updated_at: "$$.updated_at"
    topics:
      - {topic: order.cancelled, when: "$$.status", equals: cancelled}
      - {topic: order.created}

push:
  body: json
  signature: {in: header, name: X-$header-Signature, algorithm: hmac_sha256, sign_string: "{timestamp}.{body}",
              secret: app_secret}
  timestamp: {in: header, name: X-$header-Timestamp, window: 300}
  topics:
    - {topic: order.cancelled, when: "$$.status", equals: cancelled, event_id: "{id}:{status}"}
    - {topic: order.created, when: "$$.id", event_id: "{id}:{status}"}
    - {topic: stock.updated, when: "$$.available", event_id: "stock:{sku}:{digest}"}
  ack: {status: 200, body: {ok: true}}
'''

MAPPING_YAML = '''# Mapping rules for $name payloads, run by mappings/engine.py (mappings.load_rules(<this mappings folder>)).
connector: $name
version: v1
source: $name
rules:
  - id: $name.order
    version: 1
    match:
      topic: [order.created, order.cancelled]
    emit:
      - order:
          kind: {root: "$$.status", lookup: {open: created, cancelled: cancelled}}
          order_ref: {path: "$$.id", type: str}
          occurred_at: {path: "$$.updated_at", type: datetime, time_format: epoch_s}
          lines:
            each: "$$.lines[*]"
            sku: {path: "$$.sku", type: str}
            qty: {path: "$$.quantity", type: int}
  - id: $name.stock
    version: 1
    match:
      topic: stock.updated
    emit:
      - observation:
          sku: {path: "$$.sku", type: str}
          stock_type: free
          field: available
          quantity: {path: "$$.available", type: int}
          observed_at: {path: "$$.updated_at", type: datetime, time_format: epoch_s}
'''

SANDBOX = '''"""A local $name platform speaking the wire format connector.yaml describes (tests, demos, benchmarks).

    app = create_app(app_key="k", app_secret="s", access_token="t", hub_url="http://127.0.0.1:8000/webhooks/x")
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlparse

import httpx
from litestar import Litestar, Request, Response, post, route
from litestar.exceptions import HTTPException

from connectors.testing.operator import Faults, RequestLog
from connectors.testing.operator_routes import operator_routes, problem_json_object

FAULTS = {"rate_limit": (429, "throttled"), "server": (503, "busy"), "auth": (401, "unauthorized"),
          "not_found": (404, "not_found"), "invalid": (422, "invalid")}


def _error(status: int, code: str, message: str = "") -> Response[Any]:
    return Response({"error": {"code": code, "message": message or code}}, status_code=status)


class State:
    def __init__(self, *, app_secret: str, access_token: str, hub_url: str | None, skus: list[str]) -> None:
        self.app_secret, self.access_token, self.hub_url = app_secret, access_token, hub_url
        self.stock = {sku: 100 for sku in skus}
        self.orders: dict[int, dict[str, Any]] = {}
        self.ids = itertools.count(1001)
        self.log, self.faults = RequestLog(), Faults()

    def stock_view(self) -> dict[str, Any]:
        return {sku: {"available": n} for sku, n in self.stock.items()}

    async def push(self, payload: dict[str, Any]) -> int | None:
        if not self.hub_url:
            return None
        if urlparse(self.hub_url).hostname not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("hub_url must be on loopback")
        body = json.dumps(payload, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        sig = hmac.new(self.app_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-$header-Timestamp": stamp, "X-$header-Signature": sig}
        async with httpx.AsyncClient(timeout=5.0) as client:
            return (await client.post(self.hub_url, content=body, headers=headers)).status_code


def _state(request: Request[Any, Any, Any]) -> State:
    return request.app.state.sandbox  # type: ignore[no-any-return]


@route("/api/{path:path}", http_method=["GET", "PUT"], status_code=200)
async def api(request: Request[Any, Any, Any], path: str) -> Response[Any]:
    st = _state(request)
    body = await request.body()
    entry = st.log.add(method=request.method, path=request.url.path, query=request.url.query or "", body=body,
                       headers=dict(request.headers))
    response = await _answer(st, request, path.strip("/"), body)
    st.log.set_status(entry["seq"], response.status_code)
    return response


async def _answer(st: State, request: Request[Any, Any, Any], path: str, body: bytes) -> Response[Any]:
    fault = await st.faults.play()
    if fault:
        return _error(*FAULTS[fault])
    if request.headers.get("authorization") != f"Bearer {st.access_token}":
        return _error(401, "unauthorized", "missing or wrong bearer token")
    query = request.query_params
    if request.method == "GET" and path == "stock":
        skus = [s for s in str(query.get("skus", "")).split(",") if s]
        missing = [s for s in skus if s not in st.stock]
        if missing:
            return _error(404, "not_found", f"unknown sku {missing[0]}")
        return Response({"items": [{"sku": s, "available": st.stock[s]} for s in skus]}, status_code=200)
    if request.method == "PUT" and path.startswith("stock/"):
        sku = path.removeprefix("stock/")
        if sku not in st.stock:
            return _error(404, "not_found", f"unknown sku {sku}")
        try:
            available = int(json.loads(body)["available"])
        except (ValueError, KeyError, TypeError):
            return _error(422, "invalid", "body must be {\\"available\\": <int>}")
        st.stock[sku] = available
        return Response({"item": {"sku": sku, "available": available}}, status_code=200)
    if request.method == "GET" and path == "orders":
        try:
            low = int(query["updated_min"]) if query.get("updated_min") else None
            high = int(query["updated_max"]) if query.get("updated_max") else None
            page, per_page = int(query.get("page", 1)), int(query.get("per_page", 50))
        except ValueError:
            return _error(422, "invalid", "updated_min/updated_max/page/per_page must be integers")
        rows = sorted((o for o in st.orders.values() if (low is None or o["updated_at"] >= low)
                       and (high is None or o["updated_at"] <= high)), key=lambda o: (o["updated_at"], o["id"]))
        chunk = rows[(page - 1) * per_page: page * per_page]
        return Response({"orders": chunk, "has_more": page * per_page < len(rows)}, status_code=200)
    return _error(404, "not_found", f"no {request.method} /api/{path}")


@post("/_sandbox/events", status_code=201)
async def events(request: Request[Any, Any, Any]) -> dict[str, Any]:
    st, data = _state(request), await problem_json_object(request)
    try:
        if data.get("type") == "order":
            sku, qty = str(data["sku"]), int(data.get("quantity", 1))
            st.stock[sku] -= qty
            order = {"id": next(st.ids), "status": "open", "updated_at": int(time.time()),
                     "lines": [{"sku": sku, "quantity": qty}]}
            st.orders[order["id"]] = order
        elif data.get("type") == "cancel":
            order = st.orders[int(data["order_id"])]
            if order["status"] != "cancelled":
                for line in order["lines"]:
                    st.stock[line["sku"]] += line["quantity"]
            order.update(status="cancelled", updated_at=int(time.time()))
        elif data.get("type") == "stock":
            st.stock[str(data["sku"])] = int(data["available"])
            status = await st.push({"sku": data["sku"], "available": st.stock[str(data["sku"])],
                                    "updated_at": int(time.time())})
            return {"record_id": str(data["sku"]), "pushes": [status]}
        else:
            raise ValueError("type must be order, cancel or stock")
    except (KeyError, ValueError, TypeError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"record_id": str(order["id"]), "order": order, "pushes": [await st.push(order)]}


def create_app(*, app_key: str = "", app_secret: str, access_token: str = "token", hub_url: str | None = None,
               skus: list[str] | None = None) -> Litestar:
    """The sandbox; ``app_key`` is accepted for the common sandbox signature and unused."""
    st = State(app_secret=app_secret, access_token=access_token, hub_url=hub_url,
               skus=skus or ["SKU-A", "SKU-B", "SKU-C"])
    operator = operator_routes(st.log, st.faults, stock=st.stock_view, problem=True)  # /_sandbox/log|faults|stock
    app = Litestar(route_handlers=[api, events, *operator], debug=False)
    app.state.sandbox = st
    return app
'''

TESTS = '''"""The $name connector passes the Zhongshu connector acceptance kit against its sandbox."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from connectors.base import InstanceConfig, hmac_sha256_hex
from connectors.testing.acceptance import ConnectorAcceptanceSuite

from $pkg import $Class

SECRET = "$name-kit-secret"
TOKEN = "$name-kit-token"


class Test${Class}Acceptance(ConnectorAcceptanceSuite):
    connector_class = $Class
    sandbox_kwargs = {"app_key": "kit", "app_secret": SECRET, "access_token": TOKEN}

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return InstanceConfig(
            name="$name-kit", platform="$name", base_url=base_url,
            credentials={"app_secret": SECRET, "access_token": TOKEN},
            settings={"rate_limit_per_second": 1000, "rate_limit_burst": 1000},
            listings={sku: {"item_id": sku} for sku in stock},
        )

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = hmac_sha256_hex(config.credentials["app_secret"], stamp.encode() + b"." + body)
        return {**headers, "x-$header-timestamp".lower(): stamp, "x-$header-signature".lower(): signature}
'''
