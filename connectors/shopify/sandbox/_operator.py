"""The Shopify-specific /_sandbox operator endpoints: make events, set the webhook target.

The log, stock and faults endpoints are the shared ``connectors.testing.operator_routes``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.exceptions import HTTPException

from ._push import check_target
from ._rest import Sandbox, _json, _sandbox

API = "/admin/api/{version:str}"


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
