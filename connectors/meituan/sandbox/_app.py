"""The sandbox's HTTP face: the signed ``/api/v1/<cmd>`` gateway, signed pushes, and ``/_sandbox/``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import httpx
from litestar import Request, Response, get, post, route
from litestar.exceptions import HTTPException

from connectors.testing.gate import RateGate
from connectors.testing.delivery import delivery_client
from connectors.testing.operator import Faults, RequestLog
from connectors.testing.operator_routes import problem_json_object

from ._signing import meituan_sig
from ._store import Store

LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# Meituan's error envelope; codes other than 703 are [UNVERIFIED] (see connectors/meituan/connector.yaml)
ERRORS: dict[str, tuple[int, int, str]] = {  # fault kind -> (HTTP status, code, msg)
    "rate_limit": (429, 711, "超过调用频次限制"),
    "server": (500, 700, "系统错误"),
    "auth": (200, 703, "签名验证错误"),
    "not_found": (200, 803, "门店或商品不存在"),
    "invalid": (200, 701, "参数错误"),
}


def ng(code: int, msg: str, status: int = 200) -> Response[Any]:
    return Response({"data": "ng", "error": {"code": code, "msg": msg}}, status_code=status)


def ok(data: Any) -> Response[Any]:
    return Response({"data": data}, status_code=200)


def check_target(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or parsed.hostname not in LOOPBACK:
        raise ValueError(f"hub_url must be http(s) on 127.0.0.1/::1/localhost, got {url!r}")
    return url


@dataclass
class Sandbox:
    app_id: str
    app_secret: str
    hub_url: str | None
    store: Store
    window: float
    bucket: RateGate
    log: RequestLog = field(default_factory=RequestLog)
    faults: Faults = field(default_factory=Faults)
    pushes: list[dict[str, Any]] = field(default_factory=list)

    async def push(self, params: dict[str, Any]) -> dict[str, Any]:
        """POST a form to hub_url signed as Meituan signs callbacks; returns what the hub answered."""
        if not self.hub_url:
            return {"status": None, "reason": "no hub_url"}
        form = {k: str(v) for k, v in params.items()}
        form.update(app_id=self.app_id, timestamp=str(int(time.time())))
        form["sig"] = meituan_sig(self.hub_url, form.items(), self.app_secret)
        try:
            answer = await delivery_client().post(check_target(self.hub_url), content=urlencode(form).encode(),
                                                  headers={"Content-Type": "application/x-www-form-urlencoded"},
                                                  timeout=5.0)  # fmt: skip
            result: dict[str, Any] = {"status": answer.status_code, "body": answer.text[:200]}
        except httpx.HTTPError as exc:
            result = {"status": None, "reason": f"delivery failed: {type(exc).__name__}"}
        self.pushes.append({"at": time.time(), **result})
        return result

    async def push_stock(self, codes: list[str]) -> dict[str, Any]:
        return await self.push({"app_poi_code": self.store.app_poi_code, "food_data": self.store.food_data(codes)})

    async def push_order(self, order: dict[str, Any]) -> dict[str, Any]:
        return await self.push(order)


def _sandbox(request: Request[Any, Any, Any]) -> Sandbox:
    return request.app.state.sandbox  # type: ignore[no-any-return]


# -- the platform gateway ---------------------------------------------------------------------
@route("/api/v1/{cmd:path}", http_method=["GET", "POST"], status_code=200)
async def gateway(request: Request[Any, Any, Any], cmd: str) -> Response[Any]:
    sb = _sandbox(request)
    body = await request.body()
    entry = sb.log.add(method=request.method, path=request.url.path, query=request.url.query or "", body=body,
                       headers=dict(request.headers))
    response = await _answer(sb, request, cmd.strip("/"), body)
    sb.log.set_status(entry["seq"], response.status_code)
    return response


async def _answer(sb: Sandbox, request: Request[Any, Any, Any], cmd: str, body: bytes) -> Response[Any]:
    fault = await sb.faults.play()
    if fault:
        status, code, msg = ERRORS[fault]
        return ng(code, msg, status)
    params = list(parse_qsl(request.url.query or "", keep_blank_values=True))
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        try:
            params += parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            return ng(701, "参数错误: body is not a form")
    values = dict(params)
    for name in ("app_id", "timestamp", "sig"):
        if not values.get(name):
            return ng(701, f"参数错误: 缺少 {name}")
    if values["app_id"] != sb.app_id:
        return ng(702, "app_id 不存在")
    url = str(request.url).split("?", 1)[0]
    if meituan_sig(url, params, sb.app_secret) != values["sig"]:
        return ng(703, "签名验证错误")
    try:
        skew = abs(time.time() - int(values["timestamp"]))
    except ValueError:
        return ng(701, "参数错误: timestamp")
    if skew > sb.window:
        return ng(705, "timestamp 已过期")
    if not sb.bucket.allow(sb.app_id):
        status, code, msg = ERRORS["rate_limit"]
        return ng(code, msg, status)
    if values.get("app_poi_code") != sb.store.app_poi_code:
        return ng(803, f"门店不存在: {values.get('app_poi_code')}")
    handler = COMMANDS.get((request.method, cmd))
    if handler is None:
        return ng(701, f"参数错误: no {request.method} {cmd}")
    try:
        return await handler(sb, values)
    except KeyError as exc:
        return ng(803, str(exc).strip("'\""))
    except (ValueError, TypeError) as exc:
        return ng(701, f"参数错误: {exc}")


async def retail_get(sb: Sandbox, values: dict[str, str]) -> Response[Any]:
    item = sb.store.item(values.get("app_food_code", ""))
    skus = [{"sku_id": item.sku_id, "stock": str(item.stock), "price": str(item.price)}]
    return ok({"app_poi_code": sb.store.app_poi_code, "app_food_code": item.app_food_code,
               "name": item.name or item.app_food_code, "skus": skus})


async def retail_sku_stock(sb: Sandbox, values: dict[str, str]) -> Response[Any]:
    rows = json.loads(values.get("food_data") or "")
    if not isinstance(rows, list) or not rows:
        raise ValueError("food_data must be a non-empty JSON list")
    for row in rows:
        for sku in row["skus"]:
            stock = int(sku["stock"])
            if stock < 0:
                raise ValueError("stock must be >= 0")
            sb.store.set_stock(str(row["app_food_code"]), stock)
    return ok("ok")


async def order_list(sb: Sandbox, values: dict[str, str]) -> Response[Any]:
    start = int(values["start_time"]) if values.get("start_time") else None
    end = int(values["end_time"]) if values.get("end_time") else None
    offset, limit = int(values.get("offset", 0)), int(values.get("limit", 50))
    if offset < 0 or not 1 <= limit <= 100:
        raise ValueError("offset must be >= 0 and limit 1..100")
    rows = sb.store.orders_between(start, end)
    return Response({"data": rows[offset:offset + limit], "extra_info": {"total": len(rows)}}, status_code=200)


COMMANDS = {
    ("GET", "retail/get"): retail_get,
    ("POST", "retail/sku/stock"): retail_sku_stock,
    ("GET", "order/list"): order_list,
}


# -- operator -----------------------------------------------------------------------------------
async def _event(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("type")
    if kind == "order":
        order = sb.store.create_order(str(data["sku"]), int(data.get("quantity", 1)))
        pushes = [await sb.push_order(order), await sb.push_stock([str(data["sku"])])]
        return {"record_id": str(order["order_id"]), "order": order, "pushes": pushes}
    if kind == "cancel":
        order = sb.store.cancel_order(int(data["order_id"]))
        codes = [line["app_food_code"] for line in json.loads(order["detail"])]
        pushes = [await sb.push_order(order), await sb.push_stock(codes)]
        return {"record_id": str(order["order_id"]), "order": order, "pushes": pushes}
    if kind == "stock":
        item = sb.store.item(str(data["sku"]))
        if "available" in data:
            item.stock = int(data["available"])
        if "pending_outbound" in data:
            item.pending_outbound = int(data["pending_outbound"])
        return {"record_id": item.app_food_code, "pushes": [await sb.push_stock([item.app_food_code])]}
    raise ValueError("type must be 'order' (sku, quantity), 'cancel' (order_id) or "
                     "'stock' (sku, available, pending_outbound)")


@post("/_sandbox/events", status_code=201)
async def sandbox_events(request: Request[Any, Any, Any]) -> dict[str, Any]:
    data = await problem_json_object(request)
    try:
        return await _event(_sandbox(request), data)
    except (KeyError, ValueError, TypeError) as exc:
        raise HTTPException(status_code=400, detail=str(exc).strip("'\"")) from None


@post("/_sandbox/settings", status_code=200)
async def sandbox_settings(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``{"hub_url": "http://127.0.0.1:PORT/webhooks/x"}`` (or null to stop pushing)."""
    sb = _sandbox(request)
    data = await problem_json_object(request)
    if "hub_url" in data:
        try:
            sb.hub_url = check_target(str(data["hub_url"])) if data["hub_url"] else None
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"hub_url": sb.hub_url, "app_poi_code": sb.store.app_poi_code}


@get("/_sandbox/settings")
async def sandbox_settings_read(request: Request[Any, Any, Any]) -> dict[str, Any]:
    sb = _sandbox(request)
    return {"hub_url": sb.hub_url, "app_poi_code": sb.store.app_poi_code}
