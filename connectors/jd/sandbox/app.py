"""A local JD JOS gateway: ``/routerjson`` with JD's signing, envelopes, codes and rate limit.

Speaks what the PyPI ``jd-sdk`` and our client send: system params in the query string (the SDK
puts everything there) or a form body (the Java SDK puts ``360buy_param_json`` there), answers
``{"<method_with_underscores>_responce": {...}}`` or ``{"error_response": {"code": "19", ...}}``.
JD cannot push: orders created through ``/_sandbox/events`` wait to be polled with
``jingdong.pop.order.search``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from litestar import Litestar, Request, Response, get, post, route

from connectors.testing import Faults, RequestLog
from connectors.testing.gate import RateGate, ReplayCache
from connectors.testing.operator_routes import json_events, operator_routes

from .. import codes
from ..signing import parse_timestamp, response_root
from ..verifier import JdRequestRefused, verify_request
from .state import ORDER_SHIPPED, JdShop, Sku

DEFAULT_CATALOG = {"SKU-A": 100, "SKU-B": 50, "SKU-C": 0}
WRITE_METHODS = {"jingdong.stock.write.updateSkuStock", "jingdong.stock.updateSkuStock", "jingdong.ware.stock.sku.set"}
MAX_WINDOW_DAYS = 30


class BusinessError(Exception):
    """A refusal JD answers inside the method's own ``_responce`` root."""

    def __init__(self, err_code: str, message: str) -> None:
        super().__init__(message)
        self.err_code, self.message = err_code, message


JSON = "application/json;charset=utf-8"


def _json(body: Any, status: int = 200) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=JSON)


# JD answers everything with HTTP 200; the log's ``status`` is the HTTP-equivalent outcome
_EQUIVALENT = {
    "9": 400,
    "11": 401,
    "12": 401,
    "15": 400,
    "18": 429,
    "19": 401,
    "21": 401,
    "66": 504,
    "67": 503,
    "SKU_NOT_EXIST": 404,
    "PARAM_MISSING": 400,
    "PARAM_INVALID": 400,
}


def outcome(response: Response[Any]) -> tuple[str, int]:
    """(JD code, HTTP-equivalent status) of an answer, for ``/_sandbox/log``."""
    body = response.content if isinstance(response.content, dict) else {}
    if "error_response" in body:
        code = str(body["error_response"].get("code"))
        return code, _EQUIVALENT.get(code, 400)
    payload = next(iter(body.values()), {}) if body else {}
    if isinstance(payload, dict) and payload.get("success") is False:
        code = str(payload.get("errCode"))
        return code, _EQUIVALENT.get(code, 422)
    return "0", 200


def _error(code: codes.JdCode) -> Response[Any]:
    return _json(codes.error_body(code))


def _int(business: Mapping[str, Any], key: str, *, required: bool = True, default: int | None = None) -> int | None:
    value = business.get(key)
    if value is None or value == "":
        if required:
            raise BusinessError("PARAM_MISSING", f"{key} is required")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BusinessError("PARAM_INVALID", f"{key} must be an integer, got {value!r}") from None


def _parse_jd_date(business: Mapping[str, Any], key: str) -> float:
    value = business.get(key)
    if not value:
        raise BusinessError("PARAM_MISSING", f"{key} is required (yyyy-MM-dd HH:mm:ss)")
    try:
        return parse_timestamp(str(value)).timestamp()
    except ValueError as exc:
        raise BusinessError("PARAM_INVALID", str(exc)) from None


def create_app(
    *,
    app_key: str,
    app_secret: str,
    access_token: str | None = None,
    hub_url: str | None = None,
    catalog: Mapping[str, int] | None = None,
    rate_limit_per_second: float = 10.0,
    rate_limit_burst: float = 20.0,
    token_ttl: float = 86400.0,
    timestamp_window: float = 600.0,
    clock: Callable[[], float] | None = None,
) -> Litestar:
    """The JD sandbox. ``access_token`` is pre-issued (else one is made; see GET /_sandbox/stock).

    ``hub_url`` is accepted for a uniform factory signature and ignored: JD has no push.
    ``clock`` (unix seconds) lets tests move time; it drives timestamps, tokens and modified times.
    """
    del hub_url
    now = clock or time.time
    shop = JdShop(dict(catalog or DEFAULT_CATALOG))
    issued = shop.issue_token(now(), token_ttl, access_token)
    log = RequestLog()
    faults = Faults()
    gate = RateGate(rate=rate_limit_per_second, burst=rate_limit_burst, clock=now)
    replays = ReplayCache(window=timestamp_window, clock=now)

    async def params_of(request: Request[Any, Any, Any], body: bytes) -> dict[str, str]:
        params = dict(parse_qsl(request.url.query or "", keep_blank_values=True))
        ctype = request.headers.get("content-type", "")
        if body and "multipart" not in ctype:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params

    # -- API methods -------------------------------------------------------------------------
    def update_stock(business: Mapping[str, Any]) -> dict[str, Any]:
        sku = shop.find(_int(business, "skuId"))
        qty = _int(business, "stockNum")
        if sku is None:
            raise BusinessError("SKU_NOT_EXIST", f"skuId {business.get('skuId')} 不存在")
        if qty is None or qty < 0:
            raise BusinessError("PARAM_INVALID", "stockNum must be >= 0")
        with shop.lock:
            sku.stock = qty
        return {"success": True}

    def find_stock(business: Mapping[str, Any]) -> dict[str, Any]:
        sku = shop.find(_int(business, "skuId"))
        stocks = (
            []
            if sku is None
            else [
                {
                    "skuId": sku.sku_id,
                    "stockNum": sku.stock,
                    "storeId": 0,
                    "detailStock": {"totalStockNum": sku.stock, "usableStockNum": sku.stock},
                }
            ]
        )
        return {"skuStocks": stocks}

    def batch_query(business: Mapping[str, Any]) -> dict[str, Any]:
        raw = business.get("skuIds")
        ids = raw if isinstance(raw, list) else str(raw or "").split(",")
        found = [shop.find(i) for i in ids if str(i).strip()]
        return {"result": [{"skuId": s.sku_id, "stockNum": s.stock} for s in found if s]}

    def order_search(business: Mapping[str, Any]) -> dict[str, Any]:
        start, end = _parse_jd_date(business, "start_date"), _parse_jd_date(business, "end_date")
        if end < start:
            raise BusinessError("PARAM_INVALID", "end_date is before start_date")
        if end - start > MAX_WINDOW_DAYS * 86400:
            raise BusinessError("PARAM_INVALID", f"start_date..end_date may span at most {MAX_WINDOW_DAYS} days")
        page = _int(business, "page", required=False, default=1) or 1
        page_size = _int(business, "page_size", required=False, default=20) or 20
        if page < 1 or not 1 <= page_size <= 100:
            raise BusinessError("PARAM_INVALID", "page >= 1 and 1 <= page_size <= 100")
        date_type = str(business.get("dateType", "0"))
        states_raw = business.get("order_state")
        states = {s for s in str(states_raw).split(",") if s} if states_raw else None
        descending = str(business.get("sortType", "0")) == "1"
        orders, total = shop.search(
            start=start,
            end=end,
            by_modified=date_type != "1",
            states=states,
            page=page,
            page_size=page_size,
            descending=descending,
        )
        return {
            "searchorderinfo_result": {
                "apiResult": {"success": True, "resultCode": "", "chineseErrCode": "", "englishErrCode": ""},
                "orderInfoList": [o.to_wire(shop.vender_id) for o in orders],
                "orderTotal": total,
            }
        }

    methods: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
        "jingdong.stock.write.updateSkuStock": update_stock,
        "jingdong.stock.updateSkuStock": update_stock,  # the name the PyPI jd-sdk knows
        "jingdong.ware.stock.sku.set": update_stock,
        "jingdong.stock.read.findSkuStock": find_stock,
        "jingdong.stock.batchQueryStock": batch_query,  # the name the PyPI jd-sdk knows
        "jingdong.pop.order.search": order_search,
        "jingdong.pop.order.enSearch": order_search,
    }

    @route("/routerjson", http_method=["GET", "POST"])
    async def router(request: Request[Any, Any, Any]) -> Response[Any]:
        body = await request.body()
        entry = log.add(
            method=request.method,
            path=request.url.path,
            query=request.url.query or "",
            body=body,
            headers=dict(request.headers),
        )
        response = await answer(await params_of(request, body))
        entry["http_status"] = response.status_code
        entry["code"], entry["status"] = outcome(response)
        return response

    async def answer(params: dict[str, str]) -> Response[Any]:
        try:
            verify_request(params, app_key=app_key, app_secret=app_secret, now=now(), window=timestamp_window)
        except JdRequestRefused as refused:
            return _error(refused.code)
        method = params["method"]
        handler = methods.get(method)
        if handler is None:
            return _error(codes.INVALID_METHOD)
        if shop.token_state(params.get("access_token"), now()) != "ok":
            return _error(codes.INVALID_TOKEN)
        if not gate.allow(params["app_key"]):
            return _error(codes.CALL_LIMITED)
        fault = await faults.play()
        if fault == "rate_limit":
            return _error(codes.CALL_LIMITED)
        if fault == "auth":
            return _error(codes.INVALID_TOKEN)
        if fault == "server":
            return _error(codes.BACKEND_DOWN)
        if fault == "invalid":
            return _error(codes.MISSING_PARAM)
        if method in WRITE_METHODS:
            replayed = replays.get(params["sign"])
            if replayed is not None:
                return _json(replayed)
        try:
            business = json.loads(params.get("360buy_param_json") or "{}")
            if not isinstance(business, dict):
                raise ValueError("360buy_param_json must be a JSON object")
        except ValueError:
            return _error(codes.MISSING_PARAM)
        root = response_root(method)
        try:
            if fault == "not_found":
                raise BusinessError("SKU_NOT_EXIST", "记录不存在")
            payload = {"code": "0", **handler(business)}
        except BusinessError as exc:
            payload = {"code": "0", "success": False, "errCode": exc.err_code, "errMsg": exc.message}
        body = {root: payload}
        if method in WRITE_METHODS:
            replays.put(params["sign"], body)
        return _json(body)

    # -- OAuth (open-oauth.jd.com) -----------------------------------------------------------
    def token_body(token: Any) -> dict[str, Any]:
        return {
            "access_token": token.access_token,
            "expires_in": int(token.expires_at - now()),
            "refresh_token": token.refresh_token,
            "scope": "snsapi_base",
            "open_id": "sandbox-open-id",
            "uid": "sandbox-uid",
            "time": int(now() * 1000),
            "token_type": "bearer",
            "code": 0,
        }

    @route("/oauth2/access_token", http_method=["GET", "POST"])
    async def oauth_access_token(request: Request[Any, Any, Any]) -> Response[Any]:
        params = await params_of(request, await request.body())
        if params.get("app_key") != app_key or params.get("app_secret") != app_secret:
            return _json({"code": 401, "msg": "app_key or app_secret invalid"})
        if params.get("grant_type") != "authorization_code" or params.get("code") not in shop.codes:
            return _json({"code": 402, "msg": "code invalid or grant_type not authorization_code"})
        shop.codes.discard(params["code"])
        return _json(token_body(shop.issue_token(now(), token_ttl)))

    @route("/oauth2/refresh_token", http_method=["GET", "POST"])
    async def oauth_refresh_token(request: Request[Any, Any, Any]) -> Response[Any]:
        params = await params_of(request, await request.body())
        if params.get("app_key") != app_key or params.get("app_secret") != app_secret:
            return _json({"code": 401, "msg": "app_key or app_secret invalid"})
        if params.get("grant_type") != "refresh_token":
            return _json({"code": 402, "msg": "grant_type must be refresh_token"})
        token = shop.rotate(params.get("refresh_token", ""), now(), token_ttl)
        if token is None:
            return _json({"code": 403, "msg": "refresh_token invalid"})
        return _json(token_body(token))

    # -- operator ----------------------------------------------------------------------------
    def sku_of(event: Mapping[str, Any]) -> Sku:
        sku = shop.find(event.get("sku"))
        if sku is None:
            raise ValueError(f"unknown sku {event.get('sku')!r}")
        return sku

    def apply_event(event: Mapping[str, Any]) -> dict[str, Any]:
        kind = str(event.get("type", ""))
        if kind in ("order", "order.created", "orders/create"):
            lines = event.get("lines") or [{"sku": event.get("sku"), "qty": event.get("qty", event.get("quantity", 1))}]
            order = shop.create_order(
                [(sku_of(line), int(line.get("qty", line.get("quantity", 1)))) for line in lines], now()
            )
            return {"record_id": order.order_id, "order_id": order.order_id, "state": order.state}
        if kind in ("cancel", "order.cancelled", "orders/cancelled"):
            order = shop.cancel_order(str(event.get("order_id")), now())
            return {"record_id": order.order_id, "order_id": order.order_id, "state": order.state}
        if kind in ("ship", "order.shipped"):
            order = shop.touch_order(str(event.get("order_id")), now(), state=ORDER_SHIPPED)
            return {"record_id": order.order_id, "order_id": order.order_id, "state": order.state}
        if kind in ("modify", "order.modified"):
            order = shop.touch_order(str(event.get("order_id")), now(), remark=str(event.get("remark", "")))
            return {"record_id": order.order_id, "order_id": order.order_id, "state": order.state}
        if kind in ("stock", "stock.changed", "inventory_levels/update"):
            sku = sku_of(event)
            with shop.lock:
                sku.stock = int(event.get("qty", event.get("quantity", 0)))
            return {"sku": sku.outer_id, "skuId": sku.sku_id, "stockNum": sku.stock}
        if kind == "auth_code":
            code = str(event.get("code") or uuid.uuid4().hex)
            shop.codes.add(code)
            return {"code": code}
        if kind == "expire_tokens":
            shop.expire_tokens(now())
            return {"expired": True}
        raise ValueError(
            f"unknown event type {kind!r}; expected order, cancel, ship, modify, stock, auth_code or expire_tokens"
        )

    @post("/_sandbox/events", status_code=200)
    async def events(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            batch, many = await json_events(request)
            results = [apply_event(e) for e in batch]
        except (ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(results if many else results[0])

    @get("/_sandbox/orders")
    async def read_orders() -> Response[Any]:
        with shop.lock:
            return _json({"orders": [o.to_wire(shop.vender_id) for o in shop.orders.values()]})

    @get("/_sandbox/token")
    async def read_token() -> Response[Any]:
        return _json({"access_token": issued.access_token, "refresh_token": issued.refresh_token})

    app = Litestar(
        route_handlers=[
            router,
            oauth_access_token,
            oauth_refresh_token,
            events,
            read_orders,
            read_token,
            *operator_routes(log, faults, stock=shop.stock_view, media_type=JSON),
        ],
        debug=False,
    )
    app.state.shop = shop
    app.state.faults = faults
    app.state.log = log
    return app
