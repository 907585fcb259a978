"""Orders (Link paging), GraphQL, OAuth and the /_sandbox operator endpoints."""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException

from connectors.base import hmac_sha256_hex

from ..oauth import callback_message
from ._app import Sandbox, _json, _sandbox
from ._graphql import MUTATION_COST, GraphQLFailure, adjust_quantities, parse_mutation, set_quantities
from ._push import check_target

API = "/admin/api/{version:str}"


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(status_code=400, detail=f"{name} is not an ISO 8601 time") from None


def _encode_page(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


def _decode_page(token: str) -> dict[str, Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))  # type: ignore[no-any-return]
    except ValueError:
        raise HTTPException(status_code=400, detail="page_info is invalid") from None


@get(f"{API}/orders.json")
async def orders(request: Request[Any, Any, Any], version: str) -> Response[Any]:
    """``status``, ``updated_at_min``/``max``, ``limit`` (max 250); then ``page_info`` from the Link header."""
    q = request.query_params
    try:
        limit = min(int(q.get("limit", 50)), 250)
    except ValueError:
        raise HTTPException(status_code=400, detail="limit must be an integer") from None
    if q.get("page_info"):
        extra = set(q) - {"page_info", "limit", "fields"}
        if extra:
            raise HTTPException(status_code=400, detail=f"page_info cannot be combined with {sorted(extra)}")
        state = _decode_page(q["page_info"])
    else:
        state = {"min": q.get("updated_at_min"), "max": q.get("updated_at_max"),
                 "status": q.get("status", "open"), "after": 0}
    found = _sandbox(request).shop.find_orders(
        since=_time(state["min"], "updated_at_min"), until=_time(state["max"], "updated_at_max"),
        after_id=int(state["after"]), status=state["status"])
    page, rest = found[:limit], found[limit:]
    headers = {}
    if rest:
        token = _encode_page({**state, "after": page[-1]["id"]})
        url = f"{request.base_url}admin/api/{version}/orders.json?{urlencode({'limit': limit, 'page_info': token})}"
        headers["Link"] = f'<{url}>; rel="next"'
    return Response({"orders": page}, headers=headers)


@get(f"{API}/orders/{{oid:str}}")
async def order(request: Request[Any, Any, Any], oid: str) -> dict[str, Any]:
    found = _sandbox(request).shop.orders.get(int(oid.removesuffix(".json")) if oid[:1].isdigit() else -1)
    if not found:
        raise HTTPException(status_code=404, detail="Not Found")
    return {"order": found}


@post(f"{API}/graphql.json", status_code=200)
async def graphql(request: Request[Any, Any, Any]) -> dict[str, Any]:
    sb = _sandbox(request)
    body = await _json(request)
    if not sb.cost.take(MUTATION_COST):
        return {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": sb.cost.extensions(MUTATION_COST, None)}
    try:
        name, data, key = parse_mutation(str(body.get("query", "")), body.get("variables"))
        if key and key in sb.idempotent:
            return sb.idempotent[key]
        if name == "inventorySetQuantities":
            result, touched = set_quantities(sb.shop, data)
        elif name == "inventoryAdjustQuantities":
            result, touched = adjust_quantities(sb.shop, data)
        else:
            raise GraphQLFailure(f"Field '{name}' doesn't exist on type 'Mutation'")
    except GraphQLFailure as exc:
        return {"errors": [{"message": str(exc)}], "extensions": sb.cost.extensions(MUTATION_COST, 0)}
    answer = {"data": {name: result}, "extensions": sb.cost.extensions(MUTATION_COST, MUTATION_COST)}
    if key:
        sb.idempotent[key] = answer
    for item_id in touched:
        await sb.push_level(item_id)
    return answer


# -- OAuth --------------------------------------------------------------------------------------
@get("/admin/oauth/authorize", status_code=302)
async def authorize(request: Request[Any, Any, Any], client_id: str, redirect_uri: str) -> Response[Any]:
    """The merchant 'approves' at once: redirect back with a signed code, as Shopify does."""
    sb = _sandbox(request)
    state = request.query_params.get("state", "")
    if client_id != sb.app_key:
        raise HTTPException(status_code=400, detail="Oauth error invalid_request: The client_id is invalid")
    code = secrets.token_hex(16)
    sb.codes[code] = time.time()
    query = {"code": code, "host": base64.b64encode(f"{sb.shop.domain}/admin".encode()).decode(),
             "shop": sb.shop.domain, "state": state, "timestamp": str(int(time.time()))}
    query["hmac"] = hmac_sha256_hex(sb.app_secret, callback_message(query))
    return Response(None, status_code=302, headers={"Location": f"{redirect_uri}?{urlencode(query)}"})


@post("/admin/oauth/access_token", status_code=200)
async def oauth_access_token(request: Request[Any, Any, Any]) -> Response[Any]:
    sb = _sandbox(request)
    if request.headers.get("content-type", "").startswith("application/json"):
        data: dict[str, Any] = await _json(request)
    else:
        data = dict(await request.form()) | dict(request.query_params)
    ok = data.get("client_id") == sb.app_key and data.get("client_secret") == sb.app_secret
    if not ok or sb.codes.pop(str(data.get("code")), None) is None:
        return Response({"error": "invalid_request",
                         "error_description": "The authorization code was not found or was already used"},
                        status_code=400)
    return Response({"access_token": sb.access_token, "scope": "read_inventory,write_inventory,read_orders"})


# -- operator -----------------------------------------------------------------------------------
async def _event(sb: Sandbox, data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("type")
    if kind == "order":
        created = sb.shop.create_order(str(data.get("sku")), int(data.get("quantity", 1)))
        item = sb.shop.item(str(data.get("sku")))
        pushes = [await sb.push("orders/create", created), await sb.push_level(item.inventory_item_id)]
        return {"record_id": str(created["id"]), "order": created, "pushes": pushes}
    if kind == "cancel":
        cancelled = sb.shop.cancel_order(int(data.get("order_id", 0)))
        pushes = [await sb.push("orders/cancelled", cancelled)]
        for line in cancelled["line_items"]:
            pushes.append(await sb.push_level(sb.shop.item(line["sku"]).inventory_item_id))
        return {"record_id": str(cancelled["id"]), "order": cancelled, "pushes": pushes}
    if kind == "stock":
        item = sb.shop.item(str(data.get("sku")))
        sb.shop.set_available(item.inventory_item_id, sb.shop.location_id, int(data["available"]))
        return {"record_id": str(item.inventory_item_id), "pushes": [await sb.push_level(item.inventory_item_id)]}
    raise ValueError("type must be 'order' (sku, quantity), 'cancel' (order_id) or 'stock' (sku, available)")


@post("/_sandbox/events", status_code=201)
async def sandbox_events(request: Request[Any, Any, Any]) -> dict[str, Any]:
    data = await _json(request)
    try:
        return await _event(_sandbox(request), data)
    except (KeyError, ValueError, TypeError) as exc:
        raise HTTPException(status_code=400, detail=str(exc).strip("'\"")) from None


@get("/_sandbox/log")
async def sandbox_log(request: Request[Any, Any, Any], since: int = 0) -> dict[str, Any]:
    sb = _sandbox(request)
    return {"requests": sb.log.entries(since), "pushes": sb.pushes}


@get("/_sandbox/stock")
async def sandbox_stock(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"stock": _sandbox(request).shop.stock_view()}


@post("/_sandbox/faults", status_code=200)
async def sandbox_faults(request: Request[Any, Any, Any]) -> dict[str, Any]:
    sb = _sandbox(request)
    try:
        sb.faults.configure(await _json(request))
    except (ValueError, TypeError) as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return sb.faults.state()


@post("/_sandbox/settings", status_code=200)
async def sandbox_settings(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``{"webhook_target": "http://127.0.0.1:PORT/path"}`` (or null to stop pushing)."""
    sb = _sandbox(request)
    data = await _json(request)
    if "webhook_target" in data:
        try:
            sb.webhook_target = check_target(data["webhook_target"]) if data["webhook_target"] else None
        except (ValueError, TypeError) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"webhook_target": sb.webhook_target}
