"""A local Douyin shop open platform (openapi-fxg.jinritemai.com) with message push.

Gateway: ``POST /<path>?app_key=&method=&access_token=&timestamp=&v=2&sign_method=hmac-sha256&sign=``
with body = the signed ``param_json``; answers ``{code, msg, sub_code, sub_msg, data, log_id}`` plus
legacy ``err_no``/``message`` unless the caller sends ``x-open-no-old-err-code: 1``. Orders made through
``/_sandbox/events`` are pushed to ``hub_url`` as signed message arrays (tags 100/101/106, and 400
for a product/stock change), retried until the hub answers ``{"code":0,...}``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from litestar import Litestar, Request, Response, get, post

from connectors.testing import Faults, RequestLog
from connectors.testing.gate import RateGate, ReplayCache
from connectors.testing.delivery import close_delivery_client, delivery_client
from connectors.testing.operator_routes import json_events, operator_routes

from .. import codes
from ..codes import DyCode, envelope
from ..signing import canonical_json, method_for_path, push_sign
from ..verifier import DyRequestRefused, verify_api_request
from .state import DouyinShop, Order, Sku

DEFAULT_CATALOG = {"SKU-A": 100, "SKU-B": 50, "SKU-C": 0}
TOKEN_PATHS = {"/token/create", "/token/refresh"}
API_PATHS = [
    "/token/create",
    "/token/refresh",
    "/sku/syncStock",
    "/sku/stockNum",
    "/sku/detail",
    "/order/searchList",
    "/order/orderDetail",
]
WRITE_PATHS = {"/sku/syncStock"}
TAG_CREATED, TAG_PAID, TAG_CANCELLED, TAG_PRODUCT = "100", "101", "106", "400"


class Refusal(Exception):
    def __init__(self, code: DyCode, sub_msg: str = "") -> None:
        super().__init__(sub_msg or code.sub_msg or code.msg)
        self.code = DyCode(code.code, code.msg, code.sub_code, sub_msg or code.sub_msg)


def _loopback_url(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"hub_url must point at 127.0.0.1/::1/localhost, not {host!r}")
    return url


def equivalent_status(code: DyCode | None) -> int:
    """Douyin answers everything with HTTP 200; the log's ``status`` is the HTTP-equivalent outcome."""
    if code is None or code.sub_code == codes.IDEMPOTENT_EXISTED.sub_code:
        return 200
    if code.code == 60000:
        return 429
    if code.code in (20000, 20001):
        return 503
    if code.sub_code.startswith(("isv.access-token", "isv.signature", "isv.app-id", "isv.timestamp")):
        return 401
    if code.code in (30001, 30002):
        return 403
    if code.sub_code.endswith("not-found"):
        return 404
    return 400 if code.code < 50000 else 422


JSON = "application/json; charset=utf-8"


def _json(body: Any, status: int = 200) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=JSON)


def create_app(
    *,
    app_key: str,
    app_secret: str,
    access_token: str | None = None,
    hub_url: str | None = None,
    catalog: Mapping[str, int] | None = None,
    rate_limit_per_second: float = 20.0,
    rate_limit_burst: float = 20.0,
    token_ttl: float = 604800.0,
    timestamp_window: float = 600.0,
    push_retry_delays: tuple[float, ...] | list[float] = (0.2, 1.0, 3.0),
    clock: Callable[[], float] | None = None,
) -> Litestar:
    """The Douyin sandbox. ``hub_url`` (loopback only) receives message pushes; None keeps them queued."""
    now = clock or time.time
    hub = _loopback_url(hub_url) if hub_url else None
    shop = DouyinShop(dict(catalog or DEFAULT_CATALOG))
    issued = shop.issue_token(now(), token_ttl, access_token)
    log, faults = RequestLog(), Faults()
    gate = RateGate(rate=rate_limit_per_second, burst=rate_limit_burst, clock=now)
    replays = ReplayCache(window=timestamp_window, clock=now)
    msg_ids = itertools.count(7300000000000000001)
    pushes: list[dict[str, Any]] = []
    tasks: set[asyncio.Task[None]] = set()
    codes_issued: set[str] = set()

    # -- API --------------------------------------------------------------------------------------
    def need_sku(params: Mapping[str, Any]) -> Sku:
        if params.get("sku_id") in (None, "", 0) and not params.get("code"):
            raise Refusal(codes.BUSINESS_MISSING, "sku_id 或 code 必填其一")
        sku = shop.find(params.get("sku_id"), params.get("code"))
        if sku is None:
            raise Refusal(DyCode(50002, "业务处理失败", "isv.sku-not-found", "sku不存在"))
        if params.get("product_id") not in (None, "", 0) and int(params["product_id"]) != sku.product_id:
            raise Refusal(codes.BUSINESS_INVALID, "product_id 与 sku 不匹配")
        return sku

    def as_int(params: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
        value = params.get(key, default)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise Refusal(codes.BUSINESS_INVALID, f"{key} 必须是整数") from None

    def sync_stock(params: Mapping[str, Any]) -> dict[str, Any]:
        sku = need_sku(params)
        qty = as_int(params, "stock_num")
        if qty is None:
            raise Refusal(codes.BUSINESS_MISSING, "stock_num 必填")
        incremental = params.get("incremental") in (True, "true", "1", 1)
        if incremental:
            key = str(params.get("idempotent_id") or "")
            if not key:
                raise Refusal(codes.BUSINESS_MISSING, "增量更新时 idempotent_id 必填")
            if key in shop.idempotent:
                raise Refusal(codes.IDEMPOTENT_EXISTED)
        with shop.lock:
            after = sku.stock_num + qty if incremental else qty
            if after < sku.prehold or after < 0:
                raise Refusal(codes.BUSINESS_FAILED, f"库存不能小于预占库存 {sku.prehold}")
            sku.stock_num = after
            if incremental:
                shop.idempotent[str(params["idempotent_id"])] = canonical_json(params)
        return {}

    def stock_num(params: Mapping[str, Any]) -> dict[str, Any]:
        return need_sku(params).stock_wire()

    def sku_detail(params: Mapping[str, Any]) -> dict[str, Any]:
        sku = need_sku(params)
        return {
            "id": sku.sku_id,
            "product_id": sku.product_id,
            "code": sku.code,
            "stock_num": sku.stock_num,
            "prehold_stock_num": sku.prehold,
            "price": 9900,
            "spec_detail_name1": "默认",
            "out_sku_id": 0,
        }

    def search_list(params: Mapping[str, Any]) -> dict[str, Any]:
        size = as_int(params, "size", 10) or 10
        page = as_int(params, "page", 0) or 0
        if not 1 <= size <= 100 or page < 0:
            raise Refusal(codes.BUSINESS_INVALID, "page >= 0, 1 <= size <= 100")
        by_update = params.get("order_by") == "update_time" or params.get("update_time_start") is not None
        prefix = "update_time" if by_update else "create_time"
        orders, total = shop.search(
            field=prefix,
            start=as_int(params, f"{prefix}_start"),
            end=as_int(params, f"{prefix}_end"),
            status=as_int(params, "order_status"),
            page=page,
            size=size,
            ascending=params.get("order_asc") in (True, "true", 1),
        )
        return {"shop_order_list": [o.to_wire() for o in orders], "page": page, "size": size, "total": total}

    def order_detail(params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            order = shop.get(str(params.get("shop_order_id", "")))
        except ValueError:
            raise Refusal(DyCode(50002, "业务处理失败", "isv.order-not-found", "订单不存在")) from None
        return {"shop_order_detail": order.to_wire()}

    def token_data(token: Any) -> dict[str, Any]:
        return {
            "access_token": token.access_token,
            "expires_in": int(token.expires_at - now()),
            "refresh_token": token.refresh_token,
            "scope": "SCOPE",
            "shop_id": shop.shop_id,
            "shop_name": "中枢沙箱小店",
            "authority_id": str(shop.shop_id),
            "auth_subject_type": "MiniShop",
        }

    def token_create(params: Mapping[str, Any]) -> dict[str, Any]:
        grant = params.get("grant_type")
        if grant == "authorization_self":
            if str(params.get("test_shop", "")) != "1" and str(params.get("shop_id", "")) != str(shop.shop_id):
                raise Refusal(DyCode(50001, "平台处理失败", "dop.token-generate-failed:no-authorization", "店铺未授权"))
        elif grant == "authorization_code":
            code = str(params.get("code", ""))
            if code not in codes_issued:
                raise Refusal(DyCode(50001, "平台处理失败", "dop.token-generate-failed:code-invalid", "code参数不正确"))
            codes_issued.discard(code)
        else:
            raise Refusal(codes.TOKEN_GEN_GRANT)
        return token_data(shop.issue_token(now(), token_ttl))

    def token_refresh(params: Mapping[str, Any]) -> dict[str, Any]:
        if params.get("grant_type") != "refresh_token":
            raise Refusal(codes.TOKEN_GEN_GRANT)
        token = shop.rotate(str(params.get("refresh_token", "")), now(), token_ttl)
        if token is None:
            raise Refusal(codes.TOKEN_GEN_INVALID)
        return token_data(token)

    handlers: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
        "/token/create": token_create,
        "/token/refresh": token_refresh,
        "/sku/syncStock": sync_stock,
        "/sku/stockNum": stock_num,
        "/sku/detail": sku_detail,
        "/order/searchList": search_list,
        "/order/orderDetail": order_detail,
    }

    @post(API_PATHS, status_code=200)
    async def gateway(request: Request[Any, Any, Any]) -> Response[Any]:
        body = await request.body()
        entry = log.add(
            method=request.method,
            path=request.url.path,
            query=request.url.query or "",
            body=body,
            headers=dict(request.headers),
        )
        legacy = request.headers.get("x-open-no-old-err-code") != "1"
        query = dict(parse_qsl(request.url.query or "", keep_blank_values=True))
        answer = await handle(request.url.path, query, body)
        entry["http_status"] = 200
        entry["code"] = answer[0].code if answer[0] else codes.SUCCESS
        entry["status"] = equivalent_status(answer[0])
        return _json(envelope(answer[0], answer[1], log_id=uuid.uuid4().hex.upper()[:26], legacy=legacy))

    async def handle(path: str, query: dict[str, str], body: bytes) -> tuple[DyCode | None, Any]:
        param_json = body.decode("utf-8", "replace") if body else query.get("param_json", "{}")
        try:
            verify_api_request(
                query,
                param_json,
                app_key=app_key,
                app_secret=app_secret,
                method=method_for_path(path),
                now=now(),
                window=timestamp_window,
            )
        except DyRequestRefused as refused:
            return refused.code, None
        if path not in TOKEN_PATHS:
            state = shop.token_state(query.get("access_token"), now())
            if state != "ok":
                return {"missing": codes.TOKEN_MISSING, "unknown": codes.TOKEN_UNKNOWN, "expired": codes.TOKEN_EXPIRED}[
                    state
                ], None
        if not gate.allow(app_key):
            return codes.FLOW_LIMITED, None
        fault = await faults.play()
        fault_codes = {
            "rate_limit": codes.FLOW_LIMITED,
            "auth": DyCode(30001, "操作权限不足", "isv.app-permissions-insufficient", "应用无权限调用该接口"),
            "server": codes.SERVICE_ERROR,
            "invalid": codes.PARAM_FORMAT,
            "not_found": DyCode(50002, "业务处理失败", "isv.sku-not-found", "sku不存在"),
        }
        if fault:
            return fault_codes[fault], None
        if path in WRITE_PATHS:
            cached = replays.get(query.get("sign", ""))
            if cached is not None:
                return cached
        try:
            params = json.loads(param_json or "{}")
            if not isinstance(params, dict):
                raise ValueError
        except ValueError:
            return codes.PARAM_FORMAT, None
        try:
            answer: tuple[DyCode | None, Any] = (None, handlers[path](params))
        except Refusal as refusal:
            answer = (refusal.code, None)
        if path in WRITE_PATHS and answer[0] is not codes.IDEMPOTENT_EXISTED:
            replays.put(query.get("sign", ""), answer)
        return answer

    # -- push ---------------------------------------------------------------------------------------
    def message(tag: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "tag": tag,
            "msg_id": str(next(msg_ids)),
            "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        }

    def order_message(tag: str, order: Order) -> dict[str, Any]:
        base = {
            "biz": 2,
            "order_status": order.status,
            "order_type": 0,
            "p_id": int(order.order_id),
            "s_ids": order.s_ids,
            "shop_id": order.shop_id,
        }
        if tag == TAG_CREATED:
            base["create_time"] = order.create_time
        elif tag == TAG_PAID:
            base.update(pay_amount=sum(q * 9900 for _, q, _ in order.lines), pay_time=order.pay_time, pay_type=1)
        elif tag == TAG_CANCELLED:
            base.update(cancel_reason="买家取消", cancel_time=order.update_time)
        return message(tag, base)

    async def attempt(record: dict[str, Any]) -> bool:
        """One delivery; Douyin counts it done only on HTTP 200 with ``{"code": 0}``."""
        body: bytes = record["body"].encode()
        headers = {
            "app-id": app_key,
            "event-sign": push_sign(app_key, app_secret, body),
            "Content-Type": "application/json",
        }
        record["attempts"] += 1
        try:
            response = await delivery_client().post(hub or "", content=body, headers=headers, timeout=10.0)
            record["last_status"] = response.status_code
            record["delivered"] = response.status_code == 200 and response.json().get("code") == 0
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            record["last_error"] = type(exc).__name__
        return bool(record["delivered"])

    async def retry_later(record: dict[str, Any]) -> None:
        for delay in push_retry_delays:
            await asyncio.sleep(delay)
            if await attempt(record):
                return

    async def deliver(record: dict[str, Any]) -> None:
        """First attempt now (the operator call returns once it is made), retries in the background."""
        if not await attempt(record):
            task = asyncio.get_running_loop().create_task(retry_later(record))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def enqueue(messages: list[dict[str, Any]], *, batch: bool) -> list[dict[str, Any]]:
        groups = [messages] if batch else [[m] for m in messages]
        records = []
        for group in groups:
            body = json.dumps(group, ensure_ascii=False, separators=(",", ":"))
            record = {
                "msg_ids": [m["msg_id"] for m in group],
                "tags": [m["tag"] for m in group],
                "body": body,
                "sign": push_sign(app_key, app_secret, body.encode()),
                "attempts": 0,
                "delivered": False,
            }
            pushes.append(record)
            records.append(record)
            if hub:
                await deliver(record)
        return records

    # -- operator -----------------------------------------------------------------------------------
    def apply_event(event: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        kind = str(event.get("type", ""))
        t = int(now())
        if kind in ("order", "order.created", "orders/create"):
            lines = event.get("lines") or [{"sku": event.get("sku"), "qty": event.get("qty", event.get("quantity", 1))}]
            resolved = []
            for line in lines:
                sku = shop.by_ref(line.get("sku"))
                if sku is None:
                    raise ValueError(f"unknown sku {line.get('sku')!r}")
                resolved.append((sku, int(line.get("qty", line.get("quantity", 1)))))
            paid = bool(event.get("paid", True))
            order = shop.create_order(resolved, t, presale=bool(event.get("presale", False)), paid=paid)
            msgs = [order_message(TAG_CREATED, order)] + ([order_message(TAG_PAID, order)] if paid else [])
            return {"record_id": order.order_id, "order_id": order.order_id, "order_status": order.status}, msgs
        if kind in ("pay", "order.paid"):
            order = shop.pay(str(event.get("order_id")), t)
            return {"record_id": order.order_id, "order_id": order.order_id, "order_status": order.status}, [
                order_message(TAG_PAID, order)
            ]
        if kind in ("cancel", "order.cancelled", "orders/cancelled"):
            order = shop.cancel(str(event.get("order_id")), t)
            return {"record_id": order.order_id, "order_id": order.order_id, "order_status": order.status}, [
                order_message(TAG_CANCELLED, order)
            ]
        if kind in ("ship", "order.shipped"):
            order = shop.ship(str(event.get("order_id")), t)
            return {"record_id": order.order_id, "order_id": order.order_id, "order_status": order.status}, []
        if kind in ("stock", "stock.changed", "inventory_levels/update"):
            sku = shop.by_ref(event.get("sku"))
            if sku is None:
                raise ValueError(f"unknown sku {event.get('sku')!r}")
            with shop.lock:
                sku.stock_num = int(event.get("qty", event.get("quantity", 0)))
                if "presale_locked" in event:
                    sku.prehold = int(event["presale_locked"])
            data = {
                "event": 3,
                "product_id": sku.product_id,
                "out_product_id": 0,
                "shop_id": shop.shop_id,
                "update_time": t,
                "check_reject_reason": "",
            }
            return {"sku": sku.code, **sku.stock_wire()}, [message(TAG_PRODUCT, data)]
        if kind == "auth_code":
            code = str(event.get("code") or uuid.uuid4().hex)
            codes_issued.add(code)
            return {"code": code}, []
        if kind == "expire_tokens":
            shop.expire_tokens(now())
            return {"expired": True}, []
        raise ValueError(
            f"unknown event type {kind!r}; expected order, pay, cancel, ship, stock, auth_code or expire_tokens"
        )

    @post("/_sandbox/events", status_code=200)
    async def events(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            batch, many = await json_events(request)
            results, messages = [], []
            for event in batch:
                result, msgs = apply_event(event)
                results.append({**result, "msg_ids": [m["msg_id"] for m in msgs]})
                messages.extend(msgs)
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        combine = not many and bool(batch[0].get("batch"))
        await enqueue(messages, batch=combine or many)
        return _json(results if many else results[0])

    @get("/_sandbox/pushes")
    async def read_pushes() -> Response[Any]:
        return _json({"pushes": pushes})

    @post("/_sandbox/pushes/redeliver", status_code=200)
    async def redeliver(request: Request[Any, Any, Any]) -> Response[Any]:
        """Send push ``index`` again, byte for byte (Douyin's retry of an unanswered push)."""
        try:
            index = int(json.loads(await request.body() or b"{}").get("index", -1))
            record = pushes[index]
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            return _json({"error": f"no such push: {exc}"}, 400)
        again = {**record, "attempts": 0, "delivered": False}
        pushes.append(again)
        if hub:
            await deliver(again)
        return _json({"msg_ids": again["msg_ids"], "delivered": again["delivered"]})

    @get("/_sandbox/token")
    async def read_token() -> Response[Any]:
        return _json(
            {"access_token": issued.access_token, "refresh_token": issued.refresh_token, "shop_id": shop.shop_id}
        )

    app = Litestar(
        route_handlers=[
            gateway,
            events,
            read_pushes,
            redeliver,
            read_token,
            *operator_routes(log, faults, stock=shop.stock_view, media_type=JSON),
        ],
        debug=False,
        on_shutdown=[close_delivery_client],
    )
    app.state.shop = shop
    app.state.pushes = pushes
    return app
