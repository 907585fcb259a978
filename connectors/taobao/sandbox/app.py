"""The Taobao/Tmall TOP sandbox as a Litestar app: gateway + TMC queue + operator endpoints.

Gateway: ``GET|POST /router/rest`` (and ``/top/router/rest``), parameters in the query string,
an ``application/x-www-form-urlencoded`` body or a multipart body, all signed together; answers
``format=json`` with JSON and anything else (TOP's default) with XML, HTTP 200 even for errors.

Operator endpoints (not part of TOP)::

    POST /_sandbox/events    {"type":"order","sku":"SKU-A","qty":2,"paid":false,"mode":"pay"|"place"}
                               ("quantity" is accepted for "qty"); answers {"tid","record_id","status"}
                             {"type":"pay"|"ship"|"cancel","tid":...}   ("order_id" is accepted for "tid")
                             {"type":"stock","sku":"SKU-A","quantity":40}   (seller edits stock in the backend)
    GET  /_sandbox/log       {"requests": [...]} every request with arrival time, HTTP status, and for
                             gateway calls "api" and, when refused, "top_code"/"top_sub_code"
    GET  /_sandbox/stock     {"stock": {"SKU-A": {"num_iid":..,"sku_id":..,"quantity":..,"with_hold_quantity":..,
                             "sellable":..}}}
    POST /_sandbox/faults    the shared fault knobs, plus "ban_seconds" for forced code-7 answers
    POST /_sandbox/sessions  {"nick":"shop","expires_in":86400} -> a new session and refresh token
    POST /_sandbox/clock     {"advance_seconds": 301, "freeze": true}  (moves or stops the clock behind
                             session expiry, bans, TMC visibility, trade times and the timestamp check)
    GET  /_sandbox/tmc       the TMC queue: pending and confirmed message ids with delivery counts
    GET  /_sandbox/trades    every trade as TOP returns it
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qsl

from litestar import Litestar, Request, Response, get, post, route

from connectors.testing.operator_routes import bad_request, json_object

from .gateway import dispatch, to_xml
from .state import SandboxError, SandboxState

DEFAULT_CATALOGUE: list[dict[str, Any]] = [
    {"num_iid": 520000000001, "title": "中枢演示T恤", "outer_id": "ZS-TEE",
     "skus": [{"sku_id": 4200000000001, "outer_id": "SKU-A", "quantity": 100},
              {"sku_id": 4200000000002, "outer_id": "SKU-B", "quantity": 50}]},
    {"num_iid": 520000000002, "title": "中枢演示马克杯", "outer_id": "SKU-C", "quantity": 30, "sub_stock": 0},
]


def create_app(
    *,
    app_key: str,
    app_secret: str,
    access_token: str | None = None,
    hub_url: str | None = None,
    shop_nick: str = "zhongshu-demo",
    refresh_token: str | None = None,
    session_ttl: float = 86400.0,
    catalogue: list[dict[str, Any]] | None = None,
    visibility_timeout: float = 300.0,
    calls_per_second: int = 400,
    ban_seconds: int = 1,
) -> Litestar:
    """Build a TOP sandbox for one app (``app_key``/``app_secret``) and one seller shop.

    ``access_token`` (and ``refresh_token``) seed the shop's session; ``hub_url`` is accepted for
    the common sandbox signature but unused: TOP never pushes over HTTP, messages wait in the TMC
    queue until ``taobao.tmc.messages.consume``. ``visibility_timeout`` is how long a consumed,
    unconfirmed message stays invisible before it is redelivered (TOP: about 5 minutes).
    ``calls_per_second`` per app before code 7 with a ban of ``ban_seconds``.
    """
    state = SandboxState(app_key=app_key, app_secret=app_secret, visibility_timeout=visibility_timeout,
                         calls_per_second=calls_per_second, ban_seconds=ban_seconds, session_ttl=session_ttl)
    state.hub_url = hub_url  # type: ignore[attr-defined]
    state.add_session(shop_nick, access_token=access_token, refresh_token=refresh_token)
    for spec in catalogue if catalogue is not None else DEFAULT_CATALOGUE:
        state.add_item(num_iid=int(spec["num_iid"]), title=str(spec.get("title", "")),
                       outer_id=str(spec.get("outer_id", "")), nick=spec.get("nick", shop_nick),
                       skus=spec.get("skus"), quantity=int(spec.get("quantity", 0)),
                       sub_stock=int(spec.get("sub_stock", 1)))

    @route(["/router/rest", "/top/router/rest"], http_method=["GET", "POST"], status_code=200)
    async def gateway(request: Request[Any, Any, Any]) -> Response[Any]:
        raw = await request.body()
        entry = state.log.add(method=request.method, path=request.url.path, query=request.url.query or "",
                              body=raw, headers={k: v for k, v in request.headers.items()})
        params: dict[str, str] = dict(parse_qsl(request.url.query or "", keep_blank_values=True))
        content_type = request.headers.get("content-type", "")
        try:
            if "multipart/form-data" in content_type:
                form = await request.form()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
            elif raw:
                params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except (UnicodeDecodeError, ValueError) as exc:
            entry["status"] = 400
            return bad_request(f"request body is not a UTF-8 form: {exc}")
        if state.faults.latency_ms:
            await asyncio.sleep(state.faults.latency_ms / 1000)
        method, envelope = dispatch(state, params)
        entry["status"] = 200
        entry["api"] = method
        error = envelope.get("error_response")
        if error:
            entry["top_code"] = error["code"]
            entry["top_sub_code"] = error.get("sub_code")
        if (params.get("format") or "xml").lower() == "json":
            return Response(json.dumps(envelope, ensure_ascii=False).encode("utf-8"),
                            media_type="application/json;charset=UTF-8")
        return Response(to_xml(envelope).encode("utf-8"), media_type="text/xml;charset=UTF-8")

    @post("/_sandbox/events", status_code=200)
    async def events(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await json_object(request)
            kind = body.get("type")
            if kind == "order":
                sku = body.get("sku")
                if not isinstance(sku, str) or not sku:
                    raise ValueError("order needs 'sku' (the SKU's outer_id)")
                mode = body.get("mode")
                if mode not in (None, "pay", "place"):
                    raise ValueError("mode must be 'pay' (pay-to-deduct) or 'place' (place-to-deduct)")
                trade = state.create_trade(
                    outer_id=sku, num=int(body.get("qty", body.get("quantity", 1))),
                    buyer_nick=str(body.get("buyer", "tb_buyer")),
                    pay_to_deduct=None if mode is None else mode == "pay", paid=bool(body.get("paid", False)))
                return Response({"tid": trade.tid, "record_id": str(trade.tid), "status": trade.status})
            if kind in ("pay", "ship", "cancel", "close"):
                if body.get("tid") is None and body.get("order_id") is None:
                    raise KeyError("tid")
                tid = int(body.get("tid") or body["order_id"])
                action = {"pay": state.pay_trade, "ship": state.ship_trade,
                          "cancel": state.close_trade, "close": state.close_trade}[kind]
                trade = action(tid)
                return Response({"tid": trade.tid, "record_id": str(trade.tid), "status": trade.status})
            if kind == "stock":
                item, sku_obj = state.find_by_outer_id(str(body.get("sku")))
                state.set_quantity(item, sku_obj, int(body["quantity"]), 1, clamp=False)
                holder = sku_obj or item
                return Response({"sku": body.get("sku"), "quantity": holder.quantity})
            raise ValueError("type must be one of order, pay, ship, cancel, stock")
        except SandboxError as exc:
            return bad_request(f"{exc.sub_code}: {exc.sub_msg}", 409)
        except KeyError as exc:
            return bad_request(f"missing field {exc.args[0]!r}")
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))

    @get("/_sandbox/log")
    async def log(since: int = 0) -> dict[str, Any]:
        return {"requests": state.log.entries(since)}

    @get("/_sandbox/stock")
    async def stock() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with state.lock:
            for item in state.items.values():
                holders = list(item.skus.values()) or [item]
                for h in holders:
                    out[h.outer_id] = {
                        "num_iid": item.num_iid, "sku_id": getattr(h, "sku_id", None), "quantity": h.quantity,
                        "with_hold_quantity": h.with_hold_quantity,
                        "sellable": h.quantity - h.with_hold_quantity,
                        "mode": "pay_to_deduct" if item.sub_stock else "place_to_deduct",
                    }
        return {"stock": out}

    @post("/_sandbox/faults", status_code=200)
    async def faults(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await json_object(request)
            state.faults.configure({k: v for k, v in body.items() if k != "ban_seconds"})
            if "ban_seconds" in body:
                state.fault_ban_seconds = max(1, int(body["ban_seconds"]))
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))
        return Response({**state.faults.state(), "ban_seconds": state.fault_ban_seconds})

    @post("/_sandbox/sessions", status_code=200)
    async def sessions(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await json_object(request)
            expires_in = body.get("expires_in")
            session = state.add_session(str(body.get("nick", shop_nick)),
                                        expires_in=None if expires_in is None else float(expires_in))
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))
        return Response({"access_token": session.access_token, "refresh_token": session.refresh_token,
                         "taobao_user_id": session.user_id, "taobao_user_nick": session.nick,
                         "expire_time": int(session.expires_at.timestamp() * 1000)})

    @post("/_sandbox/clock", status_code=200)
    async def clock(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await json_object(request)
            if "freeze" not in body and "advance_seconds" not in body:
                raise KeyError("advance_seconds")
            if "freeze" in body:
                state.clock.freeze(bool(body["freeze"]))
            state.clock.advance(float(body.get("advance_seconds", 0)))
        except KeyError:
            return bad_request("missing field 'advance_seconds' (or 'freeze')")
        except (TypeError, ValueError) as exc:
            return bad_request(str(exc))
        return Response({"now": state.now().isoformat(), "offset_seconds": state.clock.offset.total_seconds()})

    @get("/_sandbox/tmc")
    async def tmc() -> dict[str, Any]:
        with state.lock:
            return {
                "pending": [{"id": m.id, "topic": m.topic, "deliveries": m.deliveries,
                             "visible_at": m.visible_at.isoformat()} for m in state.tmc.values()],
                "confirmed": sorted(state.tmc_confirmed),
            }

    @get("/_sandbox/trades")
    async def trades() -> list[dict[str, Any]]:
        with state.lock:
            return [t.as_top() for t in state.trades.values()]

    app = Litestar(route_handlers=[gateway, events, log, stock, faults, sessions, clock, tmc, trades],
                   debug=False)
    app.state.sandbox = state
    return app
