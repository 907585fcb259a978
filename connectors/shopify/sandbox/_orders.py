"""Orders (updated_at filters, Link/page_info paging) and the GraphQL inventory mutations."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException

from ._graphql import MUTATION_COST, GraphQLFailure, adjust_quantities, parse_mutation, set_quantities
from ._rest import _json, _sandbox

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
        sb.push_level_later(item_id)
    return answer


