"""OAuth authorization-code grant as Shopify runs it: signed redirect, one-time codes."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException

from connectors.base import hmac_sha256_hex

from ..oauth import callback_message
from ._rest import _json, _sandbox

API = "/admin/api/{version:str}"


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


