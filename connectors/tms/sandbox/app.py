"""Sandbox Kuaidi100 (快递100): real-time query, subscription, and signed tracking pushes.

Wire format as the official demos use it:

- ``POST /poll/query.do`` form ``customer``, ``param`` (JSON string), ``sign`` = MD5(param+key+customer)
  upper → the tracking JSON (``message, nu, ischeck, com, status, state, condition, data[]``) or
  ``{"result": false, "returnCode": "...", "message": "..."}``.
- ``POST /poll`` form ``schema=json``, ``param={"company", "number", "key", "parameters":
  {"callbackurl", "salt", "resultv2", ...}}`` → ``{"result": true, "returnCode": "200", "message": "提交成功"}``.
- Push: form ``param`` (JSON: ``status`` polling|shutdown|abort, ``lastResult{...}``) and ``sign`` =
  MD5(param+salt) upper to the callback URL (loopback only); anything but ``{"result": true}`` is
  retried.

Operator: ``POST /_sandbox/events`` ``{"type": "track", "number": "SF1", "company": "shunfeng",
"state": "picked_up"|"in_transit"|"out_for_delivery"|"delivered"|"returning"|"returned"|"<code>",
"context": "...", "time": "yyyy-MM-dd HH:mm:ss"}`` adds a scan and pushes it to the subscriber (or to
``hub_url`` for an unsubscribed number); ``{"type": "knobs", "duplicate_pushes": 2}``.
``GET /_sandbox/log``, ``GET /_sandbox/stock`` (the shipments), ``POST /_sandbox/faults``.
Return codes are the documented ones where known (200 ok, 400 bad params, 500 no result,
503 bad sign, 601 key invalid); 501 duplicate subscribe and 502 busy/throttled are [UNVERIFIED].
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from litestar import Litestar, Request, Response, get, post

from connectors.testing.operator import Faults, RequestLog
from connectors.testing.operator_routes import operator_routes

from ..signing import push_sign, query_sign, signatures_match
from ..tracking import FINAL_STATES, STATE_CODES, STATE_LABELS

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
CHINA_TZ = timezone(timedelta(hours=8))


def _err(code: str, message: str) -> dict[str, Any]:
    return {"result": False, "returnCode": code, "message": message}


def _loopback(url: str, what: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"{what} must point at 127.0.0.1/::1/localhost, not {host!r}")
    return url


@dataclass
class Shipment:
    number: str
    company: str
    state: str = "0"
    nodes: list[dict[str, str]] = field(default_factory=list)  # newest first
    callback_url: str = ""
    salt: str = ""

    def result(self) -> dict[str, Any]:
        return {"message": "ok", "nu": self.number, "ischeck": "1" if self.state in FINAL_STATES else "0",
                "condition": "F00", "com": self.company, "status": "200", "state": self.state,
                "data": list(self.nodes)}


class SandboxKuaidi100:
    def __init__(self, *, key: str, customer: str, hub_url: str | None, salt: str,
                 clock: Callable[[], datetime]) -> None:
        self.key, self.customer, self.salt, self.clock = key, customer, salt, clock
        self.hub_url = _loopback(hub_url, "hub_url") if hub_url else None
        self.shipments: dict[str, Shipment] = {}
        self.log = RequestLog()
        self.faults = Faults()
        self.pushes: list[dict[str, Any]] = []
        self.duplicate_pushes = 1
        self.push_retries = 2
        self.http: httpx.AsyncClient | None = None

    def fault_answer(self) -> dict[str, Any] | None:
        kind = self.faults.next()
        return {
            None: None,
            "rate_limit": _err("502", "服务器繁忙, 查询频率过快"),
            "server": _err("501", "服务器错误"),
            "auth": _err("601", "POLL:KEY已过期或账号余额不足"),
            "not_found": _err("500", "查询无结果，请隔段时间再查"),
            "invalid": _err("400", "提交的数据不完整或参数错误"),
        }[kind]

    def query(self, form: Mapping[str, str]) -> dict[str, Any]:
        param, customer, given = form.get("param", ""), form.get("customer", ""), form.get("sign", "")
        if not param or not customer or not given:
            return _err("400", "提交的数据不完整: customer, param and sign are required")
        if customer != self.customer:
            return _err("601", f"customer {customer} 不存在或KEY无效")
        if not signatures_match(query_sign(param, self.key, self.customer), given):
            return _err("503", "验证签名失败")
        try:
            data = json.loads(param)
            number = str(data["num"]).strip()
        except (ValueError, KeyError, TypeError):
            return _err("400", "param 不是合法的 JSON 或缺少 num")
        shipment = self.shipments.get(number)
        if shipment is None or not shipment.nodes:
            return _err("500", "查询无结果，请隔段时间再查")
        result = shipment.result()
        if str(data.get("order", "desc")) == "asc":
            result["data"] = list(reversed(result["data"]))
        return result

    def subscribe(self, form: Mapping[str, str]) -> dict[str, Any]:
        try:
            data = json.loads(form.get("param", ""))
            number = str(data["number"]).strip()
            parameters = data.get("parameters") or {}
        except (ValueError, KeyError, TypeError):
            return _err("400", "param 不是合法的 JSON 或缺少 number")
        if data.get("key") != self.key:
            return _err("601", "KEY无效")
        callback = str(parameters.get("callbackurl") or "")
        if not number or not callback:
            return _err("400", "number and parameters.callbackurl are required")
        try:
            _loopback(callback, "callbackurl")
        except ValueError as exc:
            return _err("400", str(exc))
        shipment = self.shipments.setdefault(number, Shipment(number, str(data.get("company") or "")))
        if shipment.callback_url == callback:
            return _err("501", "重复订阅")
        shipment.callback_url, shipment.salt = callback, str(parameters.get("salt") or "")
        shipment.company = shipment.company or str(data.get("company") or "")
        return {"result": True, "returnCode": "200", "message": "提交成功"}

    async def track(self, event: Mapping[str, Any]) -> dict[str, Any]:
        number = str(event.get("number") or "").strip()
        if not number:
            raise ValueError("number is required")
        raw_state = str(event.get("state") or "in_transit")
        state = STATE_CODES.get(raw_state, raw_state)
        if not state.isdigit():
            raise ValueError(f"unknown state {raw_state!r}; use one of {', '.join(STATE_CODES)} or a code")
        shipment = self.shipments.setdefault(number, Shipment(number, str(event.get("company") or "shunfeng")))
        when = str(event.get("time") or self.clock().astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S"))
        node = {"time": when, "ftime": when, "context": str(event.get("context") or f"[sandbox] {STATE_LABELS.get(state, state)}"),
                "status": STATE_LABELS.get(state, ""), "areaCode": "", "areaName": str(event.get("area") or "")}
        shipment.nodes.insert(0, node)
        shipment.nodes.sort(key=lambda n: n["time"], reverse=True)
        shipment.state = state
        return {"shipment": shipment.result(), "pushes": await self.push(shipment)}

    async def push(self, shipment: Shipment) -> list[dict[str, Any]]:
        url = shipment.callback_url or self.hub_url
        salt = shipment.salt if shipment.callback_url else self.salt
        if not url:
            return []
        status = "shutdown" if shipment.state in FINAL_STATES else "polling"
        param = json.dumps({"status": status, "billstatus": "", "message": "", "autoCheck": "0", "comOld": "",
                            "comNew": "", "lastResult": shipment.result()}, ensure_ascii=False, separators=(",", ":"))
        form = {"param": param}
        if salt:
            form["sign"] = push_sign(param, salt)
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10.0)
        out = []
        for _ in range(self.duplicate_pushes):
            record: dict[str, Any] = {"seq": len(self.pushes) + 1, "url": url, "param": param, "attempts": [],
                                      "delivered": False}
            self.pushes.append(record)
            for attempt in range(self.push_retries + 1):
                entry: dict[str, Any] = {"at": datetime.now(timezone.utc).timestamp()}
                try:
                    response = await self.http.post(url, data=form)
                    entry.update(status=response.status_code, answer=response.text[:300])
                    if response.is_success and response.json().get("result") is True:
                        record["delivered"] = True
                except (httpx.HTTPError, ValueError, AttributeError) as exc:
                    entry["error"] = f"{type(exc).__name__}: {exc}"
                record["attempts"].append(entry)
                if record["delivered"]:
                    break
                await asyncio.sleep(0.05 * 2**attempt)
            out.append(record)
        return out

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()


def create_app(
    *,
    app_key: str,
    app_secret: str = "",
    hub_url: str | None = None,
    customer: str = "CUSTOMER01",
    salt: str = "",
    push_retries: int = 2,
    duplicate_pushes: int = 1,
    clock: Callable[[], datetime] | None = None,
    **_ignored: Any,
) -> Litestar:
    """Build the sandbox. ``app_key`` is the Kuaidi100 授权key, ``customer`` the 公司编号; pushes for
    numbers nobody subscribed go to ``hub_url`` signed with ``salt`` (default: ``app_secret``)."""
    service = SandboxKuaidi100(key=app_key, customer=customer, hub_url=hub_url, salt=salt or app_secret,
                               clock=clock or (lambda: datetime.now(timezone.utc)))
    service.push_retries, service.duplicate_pushes = max(0, push_retries), max(1, duplicate_pushes)

    async def form_of(request: Request[Any, Any, Any]) -> tuple[dict[str, str], dict[str, Any]]:
        body = await request.body()
        entry = service.log.add(method=request.method, path=request.url.path, query=request.url.query or "",
                                body=body, headers=dict(request.headers))
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)), entry

    def answer(payload: dict[str, Any], entry: dict[str, Any]) -> Response[Any]:
        entry["status"] = 200
        entry["returnCode"] = payload.get("returnCode", payload.get("status"))
        return Response(payload, status_code=200)

    @post("/poll/query.do", status_code=200)
    async def query(request: Request[Any, Any, Any]) -> Response[Any]:
        form, entry = await form_of(request)
        if service.faults.latency_ms:
            await asyncio.sleep(service.faults.latency_ms / 1000)
        return answer(service.fault_answer() or service.query(form), entry)

    @post("/poll", status_code=200)
    async def subscribe(request: Request[Any, Any, Any]) -> Response[Any]:
        form, entry = await form_of(request)
        return answer(service.fault_answer() or service.subscribe(form), entry)

    @post("/_sandbox/events", status_code=200)
    async def events(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            event = await request.json()
            if not isinstance(event, dict):
                raise ValueError("event body must be a JSON object")
            if event.get("type") == "knobs":
                service.duplicate_pushes = max(1, int(event.get("duplicate_pushes", service.duplicate_pushes)))
                service.push_retries = max(0, int(event.get("push_retries", service.push_retries)))
                return Response({"duplicate_pushes": service.duplicate_pushes, "push_retries": service.push_retries})
            if event.get("type") != "track":
                raise ValueError(f"unknown event type {event.get('type')!r}; expected 'track' or 'knobs'")
            return Response(await service.track(event))
        except (ValueError, TypeError) as exc:
            return Response({"error": str(exc)}, status_code=400)

    @get("/_sandbox/stock")
    async def shipments() -> dict[str, Any]:
        return {"stock": {n: {**s.result(), "subscribed": bool(s.callback_url)} for n, s in service.shipments.items()}}

    async def shutdown() -> None:
        with contextlib.suppress(Exception):
            await service.close()

    operator = operator_routes(service.log, service.faults, pushes=service.pushes)
    return Litestar(route_handlers=[query, subscribe, events, shipments, *operator], on_shutdown=[shutdown])
