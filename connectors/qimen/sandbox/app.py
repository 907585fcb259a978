"""The sandbox WMS: a Litestar app speaking the Qimen wire protocol on both sides.

Hub → WMS: ``POST /router/qimen/service?method=...&app_key=...&customerId=...&format=xml|json
&sign_method=md5&timestamp=...&v=2.0&sign=...`` with the XML or JSON body, signature and ±10 min
timestamp checked like the gateway does; answers ``<response><flag>..</flag><code>..</code>
<message>..</message>...</response>`` (JSON: ``{"response": {...}}``) with HTTP 200, failures too.
Methods: deliveryorder.create, stockout.create (non-trade outbound: DBCK transfers out...), entryorder.create,
returnorder.create, order.cancel, inventory.query (the ``taobao.qimen.`` prefixed names too).

WMS → hub: after ``confirm_delay_s`` the WMS POSTs ``deliveryorder.confirm`` / ``stockout.confirm`` /
``entryorder.confirm`` / ``returnorder.confirm`` (and ``stockchange.report`` for operator stock
changes) to ``hub_url``, signed the Qimen way with the same app key and secret, retrying while the
hub does not answer ``flag=success``. ``hub_url`` must be on loopback.

Operator endpoints: ``POST /_sandbox/events`` (see ``apply_event``), ``GET /_sandbox/log``,
``GET /_sandbox/stock``, ``POST /_sandbox/faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State

from connectors.testing.operator import Faults, RequestLog
from connectors.testing.operator_routes import operator_routes

from .. import codec
from ..messages import short_method
from ..signing import (
    DEFAULT_TIMESTAMP_WINDOW,
    SIGN_METHODS,
    SignatureError,
    format_timestamp,
    parse_timestamp,
    sign,
    signatures_match,
    signed_params,
    system_params,
)
from .orders import Knobs, WmsOrder, parse_create, receive, ship_delivery
from .stock import StockBook

GATEWAY_PATH = "/router/qimen/service"
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
SUPPORTED = ("deliveryorder.create", "stockout.create", "entryorder.create", "returnorder.create", "order.cancel",
             "inventory.query")

# TOP gateway error codes (Qimen calls pass through the TOP gateway).
ERR_RATE_LIMIT = ("7", "App Call Limited")
ERR_REMOTE = ("15", "Remote service error")
ERR_MISSING_METHOD = ("21", "Missing Method")
ERR_INVALID_METHOD = ("22", "Invalid Method")
ERR_INVALID_FORMAT = ("23", "Invalid Format")
ERR_MISSING_SIGN = ("24", "Missing Signature")
ERR_INVALID_SIGN = ("25", "Invalid Signature")
ERR_MISSING_APP_KEY = ("28", "Missing App Key")
ERR_INVALID_APP_KEY = ("29", "Invalid App Key")
ERR_MISSING_TIMESTAMP = ("30", "Missing Timestamp")
ERR_INVALID_TIMESTAMP = ("31", "Invalid Timestamp")
ERR_INVALID_VERSION = ("33", "Invalid Version")
ERR_MISSING_ARGS = ("40", "Missing Required Arguments")
ERR_INVALID_ARGS = ("41", "Invalid Arguments")
# WMS business failures (vendor-specific in real life; these are the sandbox's).
ERR_ORDER_NOT_FOUND = ("ORDER_NOT_FOUND", "单据不存在")
ERR_ORDER_SHIPPED = ("ORDER_ALREADY_CONFIRMED", "单据已发货/已收货, 不能取消")
ERR_WAREHOUSE = ("WAREHOUSE_INVALID", "仓库编码无效")
ERR_INSUFFICIENT = ("STOCK_INSUFFICIENT", "库存不足")


class QimenFailure(Exception):
    def __init__(self, error: tuple[str, str], detail: str = "") -> None:
        super().__init__(detail or error[1])
        self.code, self.message = error[0], f"{error[1]}: {detail}" if detail else error[1]


def _loopback_url(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"hub_url must point at 127.0.0.1/::1/localhost, not {host!r}")
    return url


class SandboxWms:
    """State and behaviour of one sandbox WMS; the Litestar handlers are thin shells over it."""

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        customer_id: str,
        hub_url: str | None,
        warehouses: Iterable[str],
        knobs: Knobs,
        clock: Callable[[], datetime],
        timestamp_window_s: float,
    ) -> None:
        self.app_key, self.app_secret, self.customer_id = app_key, app_secret, customer_id
        self.hub_url = _loopback_url(hub_url) if hub_url else None
        parts = urlsplit(hub_url or "")
        self.hub_endpoint = parts._replace(query="").geturl()
        self.hub_query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.warehouses = tuple(warehouses)
        self.knobs = knobs.validated()
        self.clock = clock
        self.window = timestamp_window_s
        self.stock = StockBook()
        self.orders: dict[tuple[str, str], WmsOrder] = {}
        self.log = RequestLog()
        self.faults = Faults()
        self.pushes: list[dict[str, Any]] = []
        self.ids = itertools.count(1)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.http: httpx.AsyncClient | None = None
        self.lock = asyncio.Lock()

    # -- helpers ------------------------------------------------------------------------------
    def now_text(self) -> str:
        return format_timestamp(self.clock())

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids):08d}"

    def check_warehouse(self, code: str) -> None:
        if self.warehouses and code not in self.warehouses:
            raise QimenFailure(ERR_WAREHOUSE, code)

    def find_order(self, code: str, order_type: str = "") -> WmsOrder | None:
        kinds = ("delivery", "entry", "return")
        if order_type in ("THRK", "HHRK"):
            kinds = ("return", "entry", "delivery")
        elif order_type.endswith("RK"):
            kinds = ("entry", "return", "delivery")
        for kind in kinds:
            if (kind, code) in self.orders:
                return self.orders[(kind, code)]
        return None

    # -- gateway ------------------------------------------------------------------------------
    def authenticate(self, params: Mapping[str, str], body: bytes) -> None:
        """Check the protocol parameters exactly in the gateway's order; raise ``QimenFailure``."""
        if not params.get("method"):
            raise QimenFailure(ERR_MISSING_METHOD)
        if not params.get("app_key"):
            raise QimenFailure(ERR_MISSING_APP_KEY)
        if params["app_key"] != self.app_key:
            raise QimenFailure(ERR_INVALID_APP_KEY, params["app_key"])
        if not params.get("timestamp"):
            raise QimenFailure(ERR_MISSING_TIMESTAMP)
        try:
            stamp = parse_timestamp(params["timestamp"])
        except SignatureError as exc:
            raise QimenFailure(ERR_INVALID_TIMESTAMP, str(exc)) from exc
        if abs((self.clock() - stamp).total_seconds()) > self.window:
            raise QimenFailure(ERR_INVALID_TIMESTAMP, f"{params['timestamp']} is outside ±{self.window:.0f}s")
        if params.get("v", "2.0") != "2.0":
            raise QimenFailure(ERR_INVALID_VERSION, params["v"])
        if params.get("format", "xml") not in ("xml", "json"):
            raise QimenFailure(ERR_INVALID_FORMAT, params["format"])
        if not params.get("sign"):
            raise QimenFailure(ERR_MISSING_SIGN)
        method = params.get("sign_method", "md5")
        if method not in SIGN_METHODS:
            raise QimenFailure(ERR_INVALID_ARGS, f"sign_method {method}")
        if not signatures_match(sign(params, body, self.app_secret, method), params["sign"]):
            raise QimenFailure(ERR_INVALID_SIGN)
        if not params.get("customerId"):
            raise QimenFailure(ERR_MISSING_ARGS, "customerId")
        if params["customerId"] != self.customer_id:
            raise QimenFailure(ERR_INVALID_ARGS, f"customerId {params['customerId']} is not routed to this WMS")

    async def handle(self, method: str, document: dict[str, Any]) -> dict[str, Any]:
        """Run one authenticated business call; return the success payload."""
        if method in ("deliveryorder.create", "stockout.create"):
            return await self.create_order("delivery", document, confirm_method=method.replace(".create", ".confirm"))
        if method in ("entryorder.create", "returnorder.create"):
            return await self.create_order("entry" if method.startswith("entry") else "return", document)
        if method == "order.cancel":
            return self.cancel(document)
        if method == "inventory.query":
            return self.inventory(document)
        raise QimenFailure(ERR_INVALID_METHOD, method)

    async def create_order(self, kind: str, document: dict[str, Any], confirm_method: str = "") -> dict[str, Any]:
        prefix = {"delivery": "WD", "entry": "WE", "return": "WR"}[kind]
        try:
            order = parse_create(kind, document, self.next_id(prefix))
        except ValueError as exc:
            raise QimenFailure(ERR_INVALID_ARGS, str(exc)) from exc
        self.check_warehouse(order.warehouse_code)
        existing = self.orders.get((kind, order.code))
        if existing is not None:  # a retried create: same answer, nothing new
            return self.create_answer(existing)
        order.confirm_method = confirm_method
        if kind == "delivery":
            for line in order.lines:
                line.allocations = self.stock.allocate(order.warehouse_code, line.item_code, line.plan_qty,
                                                       inventory_type=line.inventory_type,
                                                       batch_code=line.batch_code)
            short = [ln.item_code for ln in order.lines if sum(a.quantity for a in ln.allocations) < ln.plan_qty]
            if short and self.knobs.refuse_insufficient:
                for line in order.lines:
                    self.stock.release(line.allocations)
                raise QimenFailure(ERR_INSUFFICIENT, ", ".join(short))
            order.logistics_code = order.logistics_code or "SF"
            order.express_code = order.express_code or f"SF{order.wms_id[2:]}{random.randrange(1000, 9999)}"
        self.orders[(kind, order.code)] = order
        if self.knobs.out_of_order and kind == "delivery":
            await self.confirm(order)  # ship confirm reaches the hub before the create is answered
        elif self.knobs.confirm_delay_s is not None:
            self.spawn(self.confirm_later(order, self.knobs.confirm_delay_s))
        return self.create_answer(order)

    def create_answer(self, order: WmsOrder) -> dict[str, Any]:
        if order.kind == "delivery":
            return {"createTime": self.now_text(), "deliveryOrderId": order.wms_id,
                    "warehouseCode": order.warehouse_code, "logisticsCode": order.logistics_code}
        return {f"{order.kind}OrderId": order.wms_id}

    def cancel(self, document: dict[str, Any]) -> dict[str, Any]:
        code = str(document.get("orderCode") or "").strip()
        if not code:
            raise QimenFailure(ERR_MISSING_ARGS, "orderCode")
        order = self.find_order(code, str(document.get("orderType") or ""))
        if order is None:
            raise QimenFailure(ERR_ORDER_NOT_FOUND, code)
        if order.status == "CONFIRMED":
            raise QimenFailure(ERR_ORDER_SHIPPED, code)
        if order.status != "CANCELED":
            for line in order.lines:
                self.stock.release(line.allocations)
                line.allocations = []
            order.status = "CANCELED"
        return {}

    def inventory(self, document: dict[str, Any]) -> dict[str, Any]:
        criteria = document.get("criteriaList") or [{}]
        rows: list[dict[str, object]] = []
        for criterion in criteria:
            if not isinstance(criterion, Mapping):
                raise QimenFailure(ERR_INVALID_ARGS, "criteria must be an element")
            rows.extend(self.stock.rows(str(criterion.get("warehouseCode") or ""),
                                        str(criterion.get("itemCode") or ""),
                                        str(criterion.get("inventoryType") or "")))
        return {"items": rows}

    # -- WMS → hub ----------------------------------------------------------------------------
    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def confirm_later(self, order: WmsOrder, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.confirm(order)

    async def confirm(self, order: WmsOrder) -> list[dict[str, Any]]:
        """Do the order (ship or receive) and send its confirm messages to the hub."""
        async with self.lock:
            if order.status != "ACCEPT":
                return []
            if order.kind == "delivery":
                messages = ship_delivery(order, self.stock, self.knobs, self.now_text())
            else:
                messages = receive(order, self.stock, self.knobs, self.now_text())
            order.confirmed_messages = messages
        return await self.send_all(messages)

    async def send_all(self, messages: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        if self.knobs.out_of_order:
            messages = list(reversed(messages))
        results = []
        for method, document in messages:
            for _ in range(self.knobs.duplicate_confirms):
                results.append(await self.push(method, document))
        return results

    async def push(self, method: str, document: dict[str, Any]) -> dict[str, Any]:
        """POST one signed message to the hub, retrying until it answers flag=success."""
        fmt = self.knobs.push_format
        body = codec.encode(document, fmt, "request")
        record: dict[str, Any] = {"seq": len(self.pushes) + 1, "method": method, "format": fmt, "body": body,
                                  "attempts": [], "delivered": False}
        self.pushes.append(record)
        if self.hub_url is None:
            record["attempts"].append({"at": self.clock().timestamp(), "error": "no hub_url configured"})
            return record
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10.0)
        for attempt in range(self.knobs.push_retries + 1):
            base = system_params(method=method, app_key=self.app_key, customer_id=self.customer_id,
                                 now=self.clock(), fmt=fmt)
            # query parameters already in hub_url are URL parameters too: signed like the rest
            params = signed_params({**self.hub_query, **base}, body, self.app_secret)
            entry: dict[str, Any] = {"at": datetime.now(timezone.utc).timestamp()}
            try:
                response = await self.http.post(self.hub_endpoint, params=params, content=body.encode("utf-8"),
                                                headers={"Content-Type": codec.CONTENT_TYPES[fmt]})
                entry.update(status=response.status_code, answer=response.text[:500])
                answer = codec.decode(response.content, fmt, "response") if response.is_success else {}
                if answer.get("flag") == "success":
                    record["delivered"] = True
                    record["attempts"].append(entry)
                    return record
            except (httpx.HTTPError, codec.BodyError) as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
            record["attempts"].append(entry)
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
        return record

    async def report_stock_change(self, change: dict[str, Any]) -> dict[str, Any]:
        item = {key: value for key, value in change.items() if value not in ("", None)}
        document = {"items": [item]}
        return (await self.send_all([("stockchange.report", document)]))[0]

    # -- operator -----------------------------------------------------------------------------
    async def apply_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Run one ``/_sandbox/events`` body; ``ValueError`` names what is wrong with it.

        ``{"type": "confirm", "orderCode": "D1"}`` confirm now (also for confirm_delay_s=null);
        ``{"type": "short_ship", "orderCode": "D1", "lines": {"SKU-A": 1}}`` or ``"ratio": 0.5``;
        ``{"type": "receipt", "orderCode": "E1", "lines": [{"itemCode", "inventoryType", "actualQty",
        "batchCode", "expireDate", "productDate"}]}`` actual receipt of an entry/return order;
        ``{"type": "stock_change", "warehouseCode", "itemCode", "quantity": -2, "inventoryType": "ZP",
        "batchCode", "expireDate", "orderType": "QTCK", "report": true}`` the WMS changes stock itself;
        ``{"type": "stock_count", "warehouseCode", "itemCode", "counted": 7, ..., "report": true}`` a count;
        ``{"type": "knobs", "short_ship_ratio": 0.5, "duplicate_confirms": 2, ...}`` change behaviour;
        ``{"type": "redeliver", "orderCode": "D1"}`` send an order's confirm messages again.
        """
        kind = event.get("type")
        if kind == "knobs":
            fields = {k: v for k, v in event.items() if k != "type"}
            unknown = set(fields) - set(asdict(self.knobs))
            if unknown:
                raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}")
            self.knobs = replace(self.knobs, **fields).validated()
            return {"knobs": asdict(self.knobs)}
        if kind in ("stock_change", "stock_count"):
            return await self.operator_stock(kind, event)
        order = self.find_order(str(event.get("orderCode") or ""))
        if order is None:
            raise ValueError(f"no order {event.get('orderCode')!r} in this WMS")
        if kind == "confirm":
            return {"pushes": await self.confirm(order)}
        if kind == "redeliver":
            return {"pushes": await self.send_all(order.confirmed_messages)}
        if kind == "short_ship":
            if order.kind != "delivery":
                raise ValueError("short_ship applies to delivery orders")
            if "ratio" in event:
                order.short_ratio = float(event["ratio"])
            lines = event.get("lines")
            if lines is not None:
                if not isinstance(lines, Mapping):
                    raise ValueError("lines must map itemCode to units shipped")
                order.ship_override = {str(k): int(v) for k, v in lines.items()}
            return {"order": order.summary()}
        if kind == "receipt":
            if order.kind == "delivery":
                raise ValueError("receipt applies to entry and return orders")
            lines = event.get("lines")
            if not isinstance(lines, list) or not all(isinstance(x, Mapping) for x in lines):
                raise ValueError("lines must be a list of {itemCode, inventoryType, actualQty}")
            order.receipt_override = [dict(x) for x in lines]
            return {"order": order.summary()}
        raise ValueError(f"unknown event type {kind!r}")

    async def operator_stock(self, kind: str, event: Mapping[str, Any]) -> dict[str, Any]:
        warehouse = str(event.get("warehouseCode") or (self.warehouses[0] if self.warehouses else ""))
        item = str(event.get("itemCode") or "")
        if not item:
            raise ValueError("itemCode is required")
        inventory_type = str(event.get("inventoryType") or "ZP")
        batch_code = str(event.get("batchCode") or "")
        async with self.lock:
            if kind == "stock_count":
                delta = self.stock.set_count(warehouse, item, int(event["counted"]), inventory_type=inventory_type,
                                             batch_code=batch_code)
            else:
                delta = int(event.get("quantity", 0))
                self.stock.add(warehouse, item, delta, inventory_type=inventory_type, batch_code=batch_code,
                               product_date=str(event.get("productDate") or ""),
                               expire_date=str(event.get("expireDate") or ""))
        result: dict[str, Any] = {"delta": delta}
        if delta and event.get("report", True):
            change = {
                "ownerCode": str(event.get("ownerCode") or ""), "warehouseCode": warehouse,
                "orderCode": str(event.get("orderCode") or self.next_id("PD" if kind == "stock_count" else "SC")),
                "orderType": str(event.get("orderType") or ("QTRK" if delta > 0 else "QTCK")),
                "outBizCode": self.next_id("CHG"), "itemCode": item, "inventoryType": inventory_type,
                "quantity": delta, "batchCode": batch_code, "changeTime": self.now_text(),
                "remark": str(event.get("remark") or ("盘点差异" if kind == "stock_count" else "")),
            }
            result["push"] = await self.report_stock_change(change)
        return result

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.http is not None:
            await self.http.aclose()


def _answer(payload: dict[str, Any], fmt: str) -> Response[bytes]:
    fmt = fmt if fmt in ("xml", "json") else "xml"
    body = codec.encode(payload, fmt, "response").encode("utf-8")
    return Response(body, status_code=200, media_type=codec.CONTENT_TYPES[fmt])


def create_app(
    *,
    app_key: str,
    app_secret: str,
    hub_url: str | None = None,
    customer_id: str = "CUST01",
    warehouses: Iterable[str] = ("WH01", "WH02"),
    initial_stock: Iterable[Mapping[str, Any]] = (),
    confirm_delay_s: float | None = 0.2,
    short_ship_ratio: float = 0.0,
    split_shipments: int = 1,
    duplicate_confirms: int = 1,
    out_of_order: bool = False,
    push_format: str = "xml",
    push_retries: int = 3,
    refuse_insufficient: bool = False,
    timestamp_window_s: float = DEFAULT_TIMESTAMP_WINDOW.total_seconds(),
    clock: Callable[[], datetime] | None = None,
    **_ignored: Any,
) -> Litestar:
    """Build the sandbox WMS.

    ``initial_stock`` rows: ``{"warehouseCode", "itemCode", "quantity", "inventoryType": "ZP",
    "batchCode", "productDate", "expireDate"}``. ``hub_url`` is the hub's full Qimen receiver URL
    (loopback only); the WMS appends the signed protocol parameters to it. Extra keyword arguments
    the SDK passes to every sandbox (``access_token``...) are accepted and ignored.
    """
    knobs = Knobs(confirm_delay_s=confirm_delay_s, short_ship_ratio=short_ship_ratio,
                  split_shipments=split_shipments, duplicate_confirms=duplicate_confirms, out_of_order=out_of_order,
                  push_format=push_format, push_retries=push_retries, refuse_insufficient=refuse_insufficient)
    wms = SandboxWms(app_key=app_key, app_secret=app_secret, customer_id=customer_id, hub_url=hub_url,
                     warehouses=warehouses, knobs=knobs, clock=clock or (lambda: datetime.now(timezone.utc)),
                     timestamp_window_s=timestamp_window_s)
    for row in initial_stock:
        wms.stock.add(str(row.get("warehouseCode") or wms.warehouses[0]), str(row["itemCode"]), int(row["quantity"]),
                      inventory_type=str(row.get("inventoryType") or "ZP"), batch_code=str(row.get("batchCode") or ""),
                      product_date=str(row.get("productDate") or ""), expire_date=str(row.get("expireDate") or ""))

    async def gateway(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await request.body()
        params = {key: value for key, value in request.query_params.items()}
        entry = wms.log.add(method=request.method, path=request.url.path, query=request.url.query or "", body=body,
                            headers=dict(request.headers))
        fmt = params.get("format", "xml")
        try:
            wms.authenticate(params, body)
            fault = wms.faults.next()
            if wms.faults.latency_ms:
                await asyncio.sleep(wms.faults.latency_ms / 1000)
            if fault == "rate_limit":
                raise QimenFailure(ERR_RATE_LIMIT, "This ban will last for 1 more seconds")
            if fault == "auth":
                raise QimenFailure(ERR_INVALID_SIGN)
            if fault == "not_found":
                raise QimenFailure(ERR_ORDER_NOT_FOUND)
            if fault == "invalid":
                raise QimenFailure(ERR_INVALID_ARGS, "forced by /_sandbox/faults")
            if fault == "server":
                raise QimenFailure(ERR_REMOTE)
            method = short_method(params["method"])
            if method not in SUPPORTED:
                raise QimenFailure(ERR_INVALID_METHOD, params["method"])
            try:
                document = codec.decode(body, fmt, "request")
            except codec.BodyError as exc:
                raise QimenFailure(ERR_INVALID_ARGS, str(exc)) from exc
            payload = codec.success("", **await wms.handle(method, document))
        except QimenFailure as failure:
            payload = codec.failure(failure.code, failure.message)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a body shape no check foresaw
            payload = codec.failure(ERR_INVALID_ARGS[0], f"{ERR_INVALID_ARGS[1]}: {type(exc).__name__}: {exc}")
        entry["status"] = 200
        entry["flag"], entry["code"] = payload["flag"], payload["code"]
        return _answer(payload, fmt)

    @post(GATEWAY_PATH, status_code=200)
    async def qimen_gateway(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await gateway(request)

    @post("/_sandbox/events", status_code=200)
    async def events(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            event = await request.json()
            if not isinstance(event, dict):
                raise ValueError("event body must be a JSON object")
            return Response(await wms.apply_event(event))
        except (ValueError, KeyError, TypeError) as exc:
            return Response({"error": str(exc)}, status_code=400)

    @get("/_sandbox/stock")
    async def stock(warehouseCode: str = "", itemCode: str = "") -> dict[str, Any]:  # noqa: N803
        return {"stock": wms.stock.rows(warehouseCode, itemCode),
                "orders": [order.summary() for order in wms.orders.values()], "knobs": asdict(wms.knobs)}

    operator = operator_routes(wms.log, wms.faults, pushes=wms.pushes)
    app = Litestar(route_handlers=[qimen_gateway, events, stock, *operator], on_shutdown=[wms.close],
                   state=State({"wms": wms}), debug=False)
    return app
