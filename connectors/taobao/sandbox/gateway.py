"""The TOP gateway's checks and API methods, as pure request -> envelope functions.

Check order follows the platform's error table (codes < 100 are platform errors, answered before
any business logic): method (21/22), app_key (28/29), timestamp present (30), sign present (24),
sign valid (25), timestamp within ±10 min (31), version (32/34), call limit (7), session (26/27),
then the method's own arguments (40/41) and business errors (15 with an ``isv.*`` sub_code).

TOP answers every one of these with HTTP 200 and an ``error_response`` envelope; only transport
problems get another status.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.taobao.signing import (
    SIGN_METHODS,
    TIMESTAMP_WINDOW,
    format_timestamp,
    parse_timestamp,
    verify_sign,
)

from .state import Item, SandboxError, SandboxState, Session, Sku


class TopError(Exception):
    """A platform-level error answered as ``error_response``."""

    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.sub_code, self.sub_msg = code, msg, sub_code, sub_msg


def response_root(method: str) -> str:
    """``taobao.item.quantity.update`` -> ``item_quantity_update_response``."""
    name = method[len("taobao."):] if method.startswith("taobao.") else method
    return name.replace(".", "_") + "_response"


def request_id() -> str:
    return secrets.token_hex(7)


def error_envelope(error: TopError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "msg": error.msg}
    if error.sub_code:
        body["sub_code"] = error.sub_code
    if error.sub_msg:
        body["sub_msg"] = error.sub_msg
    body["request_id"] = request_id()
    return {"error_response": body}


@dataclass
class Call:
    """One verified API call: its parameters and, if the method needs one, the seller's session."""

    params: Mapping[str, str]
    session: Session | None
    state: SandboxState

    def required(self, name: str) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise TopError(40, f"Missing required arguments:{name}")
        return value

    def integer(self, name: str, *, required: bool = True, default: int | None = None,
                minimum: int | None = None, maximum: int | None = None) -> int | None:
        raw = self.required(name) if required else self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise TopError(41, f"Invalid arguments:{name}", "isv.invalid-parameter",
                           f"{name} must be an integer, got {raw!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise TopError(41, f"Invalid arguments:{name}", "isv.invalid-parameter",
                           f"{name}={value} is outside [{minimum}, {maximum}]")
        return value

    def time(self, name: str) -> datetime:
        raw = self.required(name)
        try:
            return parse_timestamp(raw)
        except ValueError as exc:
            raise TopError(41, f"Invalid arguments:{name}", "isv.invalid-parameter", str(exc)) from None

    @property
    def nick(self) -> str:
        assert self.session is not None
        return self.session.nick


# --- method implementations ---------------------------------------------------------------------

def _sku_json(sku: Sku, fields: set[str] | None = None) -> dict[str, Any]:
    full = {
        "sku_id": sku.sku_id, "num_iid": sku.num_iid, "iid": str(sku.num_iid), "outer_id": sku.outer_id,
        "quantity": sku.quantity, "with_hold_quantity": sku.with_hold_quantity, "price": sku.price,
        "properties": sku.properties, "properties_name": sku.properties_name, "status": "normal",
        "created": sku.created, "modified": sku.modified,
    }
    return {k: v for k, v in full.items() if not fields or k in fields}


def _item_json(item: Item, fields: set[str] | None = None) -> dict[str, Any]:
    full: dict[str, Any] = {
        "num_iid": item.num_iid, "iid": str(item.num_iid), "title": item.title, "outer_id": item.outer_id,
        "nick": item.nick, "num": item.num, "approve_status": "onsale", "sub_stock": item.sub_stock,
        "modified": item.modified,
    }
    if not item.skus:
        full["with_hold_quantity"] = item.with_hold_quantity
    out = {k: v for k, v in full.items() if not fields or k in fields}
    if item.skus and (not fields or fields & {"sku", "skus"}):  # TOP asks for SKUs with field "sku"
        out["skus"] = {"sku": [_sku_json(s) for s in item.skus.values()]}
    return out


def _fields(call: Call) -> set[str]:
    return {f.strip() for f in call.required("fields").split(",") if f.strip()}


def _write_result(item: Item, sku: Sku | None) -> dict[str, Any]:
    out: dict[str, Any] = {"iid": str(item.num_iid), "num_iid": item.num_iid, "num": item.num,
                           "modified": item.modified}
    if sku is not None:
        out["skus"] = {"sku": [{"sku_id": sku.sku_id, "quantity": sku.quantity, "modified": sku.modified}]}
    return {"item": out}


def item_quantity_update(call: Call) -> dict[str, Any]:
    num_iid = call.integer("num_iid")
    quantity = call.integer("quantity")
    mode = call.integer("type", required=False, default=1, minimum=1, maximum=2)
    sku_id = call.integer("sku_id", required=False)
    outer_id = call.params.get("outer_id") or None
    item = call.state.item(num_iid, call.nick)
    sku: Sku | None = None
    if sku_id is not None:
        sku = call.state.sku_of(item, sku_id)
    elif outer_id is not None and item.skus:
        sku = next((s for s in item.skus.values() if s.outer_id == outer_id), None)
        if sku is None:
            raise SandboxError("isv.item-sku-not-exist", f"outer_id {outer_id} is not a SKU of item {num_iid}")
    elif item.skus:
        raise SandboxError("isv.invalid-parameter", "item has SKUs: give sku_id or outer_id")
    call.state.set_quantity(item, sku, quantity, mode, clamp=False)
    return _write_result(item, sku)


def skus_quantity_update(call: Call) -> dict[str, Any]:
    num_iid = call.integer("num_iid")
    mode = call.integer("type", required=False, default=1, minimum=1, maximum=2)
    item = call.state.item(num_iid, call.nick)
    by_id = call.params.get("skuid_quantities") or ""
    by_outer = call.params.get("outerid_quantities") or ""
    if not by_id and not by_outer:
        raise TopError(40, "Missing required arguments:skuid_quantities")
    pairs: list[tuple[Sku, int]] = []
    try:
        for chunk in filter(None, (by_id or by_outer).split(";")):
            key, _, qty = chunk.partition(":")
            if by_id:
                sku = call.state.sku_of(item, int(key))
            else:
                sku = next((s for s in item.skus.values() if s.outer_id == key), None)
                if sku is None:
                    raise SandboxError("isv.item-sku-not-exist", f"outer_id {key} is not a SKU of item {num_iid}")
            pairs.append((sku, int(qty)))
    except ValueError:
        name = "skuid_quantities" if by_id else "outerid_quantities"
        raise TopError(41, f"Invalid arguments:{name}", "isv.invalid-parameter",
                       f"{name} must look like 'id:qty;id:qty'") from None
    if len(pairs) > 20:
        raise TopError(41, "Invalid arguments:skuid_quantities", "isv.invalid-parameter", "at most 20 SKUs")
    for sku, qty in pairs:
        if mode == 1 and qty < 0:
            raise SandboxError("isv.invalid-parameter", f"quantity {qty} < 0 for sku {sku.sku_id} with type=1")
    with call.state.lock:
        for sku, qty in pairs:
            call.state.set_quantity(item, sku, qty, mode, clamp=True)
    out = {"iid": str(item.num_iid), "num_iid": item.num_iid, "num": item.num, "modified": item.modified,
           "skus": {"sku": [{"sku_id": s.sku_id, "quantity": s.quantity, "modified": s.modified} for s, _ in pairs]}}
    return {"item": out}


def item_sku_get(call: Call) -> dict[str, Any]:
    fields = _fields(call)
    sku_id = call.integer("sku_id")
    num_iid = call.integer("num_iid", required=False)
    for item in call.state.items.values():
        if sku_id in item.skus and (num_iid is None or num_iid == item.num_iid) and item.nick == call.nick:
            return {"sku": _sku_json(item.skus[sku_id], fields)}
    raise SandboxError("isv.item-sku-not-exist", f"sku_id {sku_id} does not exist")


def item_skus_get(call: Call) -> dict[str, Any]:
    fields = _fields(call)
    ids = [int(x) for x in call.required("num_iids").split(",") if x.strip().isdigit()]
    skus = [_sku_json(s, fields) for i in ids for s in call.state.item(i, call.nick).skus.values()]
    return {"skus": {"sku": skus}} if skus else {}


def item_seller_get(call: Call) -> dict[str, Any]:
    fields = _fields(call)
    item = call.state.item(call.integer("num_iid"), call.nick)
    return {"item": _item_json(item, fields)}


def items_seller_list_get(call: Call) -> dict[str, Any]:
    fields = _fields(call)
    raw = [x.strip() for x in call.required("num_iids").split(",") if x.strip()]
    if len(raw) > 20:
        raise TopError(41, "Invalid arguments:num_iids", "isv.invalid-parameter", "at most 20 num_iids")
    items = []
    for value in raw:
        if not value.isdigit():
            raise TopError(41, "Invalid arguments:num_iids", "isv.invalid-parameter", f"{value!r} is not an id")
        item = call.state.items.get(int(value))
        if item is not None and item.nick == call.nick:
            items.append(_item_json(item, fields))
    return {"items": {"item": items}} if items else {}


def trades_sold_increment_get(call: Call) -> dict[str, Any]:
    """Trades modified in [start_modified, end_modified] (≤ 1 day apart), ordered by modified."""
    _fields(call)
    start, end = call.time("start_modified"), call.time("end_modified")
    if end < start:
        raise TopError(41, "Invalid arguments:end_modified", "isv.invalid-parameter",
                       "end_modified must not be before start_modified")
    if end - start > timedelta(days=1):
        raise TopError(41, "Invalid arguments:end_modified", "isv.invalid-parameter",
                       "start_modified and end_modified may be at most one day apart")
    page_no = call.integer("page_no", required=False, default=1, minimum=1)
    page_size = call.integer("page_size", required=False, default=40, minimum=1, maximum=100)
    status = call.params.get("status") or None
    use_has_next = (call.params.get("use_has_next") or "").lower() == "true"
    assert page_no is not None and page_size is not None
    # TOP compares at whole seconds: drop sub-second parts before comparing
    lo, hi = start.replace(microsecond=0), end.replace(microsecond=0)
    matches = sorted(
        (t for t in call.state.trades.values()
         if t.seller_nick == call.nick and lo <= t.modified_at.replace(microsecond=0) <= hi
         and (status is None or t.status == status)),
        key=lambda t: (t.modified_at.replace(microsecond=0), t.tid),
    )
    page = matches[(page_no - 1) * page_size: page_no * page_size]
    out: dict[str, Any] = {}
    if page:
        out["trades"] = {"trade": [t.as_top() for t in page]}
    if use_has_next:
        out["has_next"] = page_no * page_size < len(matches)
    else:
        out["total_results"] = len(matches)
    return out


def trade_fullinfo_get(call: Call) -> dict[str, Any]:
    _fields(call)
    trade = call.state.trade(call.integer("tid"))
    if trade.seller_nick != call.nick:
        raise SandboxError("isv.trade-not-exist", f"trade {trade.tid} does not exist")
    return {"trade": trade.as_top()}


def tmc_messages_consume(call: Call) -> dict[str, Any]:
    quantity = call.integer("quantity", required=False, default=100, minimum=10, maximum=200)
    assert quantity is not None
    batch = call.state.consume(quantity)
    return {"messages": {"tmc_message": [m.as_top() for m in batch]}} if batch else {}


def tmc_messages_confirm(call: Call) -> dict[str, Any]:
    raw = call.params.get("s_message_ids") or ""
    ids: list[int] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        if not part.isdigit():
            raise TopError(41, "Invalid arguments:s_message_ids", "isv.invalid-parameter", f"{part!r} is not an id")
        ids.append(int(part))
    if len(ids) > 200:
        raise TopError(41, "Invalid arguments:s_message_ids", "isv.invalid-parameter", "at most 200 ids")
    call.state.confirm(ids)
    return {"is_success": True}


def tmc_user_permit(call: Call) -> dict[str, Any]:
    return {"is_success": True}


def top_auth_token_refresh(call: Call) -> dict[str, Any]:
    session = call.state.refresh(call.required("refresh_token"))
    now = call.state.now()
    expires_in = int((session.expires_at - now).total_seconds())
    re_expires_in = int((session.refresh_expires_at - now).total_seconds())
    token = {
        "access_token": session.access_token, "refresh_token": session.refresh_token,
        "expires_in": expires_in, "re_expires_in": re_expires_in,
        "r1_expires_in": expires_in, "r2_expires_in": expires_in,
        "w1_expires_in": expires_in, "w2_expires_in": expires_in,
        "taobao_user_id": str(session.user_id), "taobao_user_nick": session.nick,
        "expire_time": int(session.expires_at.timestamp() * 1000),
        "refresh_token_valid_time": int(session.refresh_expires_at.timestamp() * 1000),
        "token_type": "Bearer",
    }
    # TOP returns the token as a JSON *string* in token_result
    return {"token_result": json.dumps(token, separators=(",", ":"))}


def time_get(call: Call) -> dict[str, Any]:
    return {"time": call.state.stamp()}


Handler = Callable[[Call], dict[str, Any]]
# method -> (handler, needs a seller session)
METHODS: dict[str, tuple[Handler, bool]] = {
    "taobao.item.quantity.update": (item_quantity_update, True),
    "taobao.skus.quantity.update": (skus_quantity_update, True),
    "taobao.item.sku.get": (item_sku_get, True),
    "taobao.item.skus.get": (item_skus_get, True),
    "taobao.item.seller.get": (item_seller_get, True),
    "taobao.items.seller.list.get": (items_seller_list_get, True),
    "taobao.trades.sold.increment.get": (trades_sold_increment_get, True),
    "taobao.trade.fullinfo.get": (trade_fullinfo_get, True),
    "taobao.tmc.messages.consume": (tmc_messages_consume, False),
    "taobao.tmc.messages.confirm": (tmc_messages_confirm, False),
    "taobao.tmc.user.permit": (tmc_user_permit, True),
    "taobao.top.auth.token.refresh": (top_auth_token_refresh, False),
    "taobao.time.get": (time_get, False),
}


def _fault_error(kind: str, state: SandboxState) -> TopError:
    """An operator-forced fault in TOP's own words."""
    if kind == "rate_limit":
        return TopError(7, "App Call Limited", "accesscontrol.limited-by-api-access-count",
                        f"This ban will last for {state.fault_ban_seconds} more seconds")
    if kind == "auth":
        return TopError(27, "Invalid session", "invalid-sessionkey", "SessionKey非法")
    if kind == "not_found":
        return TopError(15, "Remote service error", "isv.item-not-exist", "injected fault: not found")
    if kind == "invalid":
        return TopError(41, "Invalid arguments", "isv.invalid-parameter", "injected fault: invalid")
    return TopError(15, "Remote service error", "isp.remote-service-timeout", "injected fault: remote timeout")


def dispatch(state: SandboxState, params: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Verify one gateway request and run it; returns (method or "", envelope)."""
    method = params.get("method") or ""
    try:
        if not method:
            raise TopError(21, "Missing method")
        app_key = params.get("app_key") or ""
        if not app_key:
            raise TopError(28, "Missing app key")
        if app_key != state.app_key:
            raise TopError(29, "Invalid app key")
        if not params.get("timestamp"):
            raise TopError(30, "Missing timestamp")
        if not params.get("sign"):
            raise TopError(24, "Missing signature")
        if (params.get("sign_method") or "md5") not in SIGN_METHODS:
            raise TopError(25, "Invalid signature", "isv.invalid-sign-method",
                           f"sign_method must be one of {', '.join(SIGN_METHODS)}")
        if not verify_sign(params, state.app_secret):
            raise TopError(25, "Invalid signature")
        try:
            moment = parse_timestamp(params["timestamp"])
        except ValueError as exc:
            raise TopError(31, "Invalid timestamp", "isv.invalid-timestamp", str(exc)) from None
        if abs(moment - state.now()) > TIMESTAMP_WINDOW:
            raise TopError(31, "Invalid timestamp", "isv.invalid-timestamp",
                           f"timestamp {params['timestamp']} differs from server time "
                           f"{format_timestamp(state.now())} by more than 10 minutes")
        version = params.get("v")
        if not version:
            raise TopError(32, "Missing version")
        if version != "2.0":
            raise TopError(34, "Unsupported version", None, f"v={version}; only 2.0 is served")
        if method not in METHODS:
            raise TopError(22, "Invalid method", "isv.method-not-exist", f"{method} is not served by this sandbox")
        ban = state.rate_limit()
        if ban is not None:
            raise TopError(7, "App Call Limited", "accesscontrol.limited-by-app-access-count",
                           f"This ban will last for {ban} more seconds")
        fault = state.faults.next()
        if fault is not None:
            raise _fault_error(fault, state)
        handler, needs_session = METHODS[method]
        session = None
        if needs_session:
            token = params.get("session") or params.get("access_token") or ""
            if not token:
                raise TopError(26, "Missing session")
            session = state.session_for(token)
            if session is None:
                expired = token in state.sessions
                raise TopError(27, "Invalid session", "session-expired" if expired else "invalid-sessionkey",
                               "SessionKey已过期" if expired else "SessionKey非法")
        body = handler(Call(params=params, session=session, state=state))
    except SandboxError as exc:
        return method, error_envelope(TopError(exc.code, exc.msg, exc.sub_code, exc.sub_msg))
    except TopError as exc:
        return method, error_envelope(exc)
    body["request_id"] = request_id()
    return method, {response_root(method): body}


def to_xml(envelope: Mapping[str, Any]) -> str:
    """TOP's XML rendering of an envelope (``format=xml``, the gateway's default format)."""

    def render(name: str, value: Any) -> str:
        if isinstance(value, Mapping):
            return f"<{name}>" + "".join(
                "".join(render(k, x) for x in v) if isinstance(v, list) else render(k, v)
                for k, v in value.items()) + f"</{name}>"
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<{name}>{text}</{name}>"

    ((root, body),) = envelope.items()
    return '<?xml version="1.0" encoding="utf-8" ?>' + render(root, body)
