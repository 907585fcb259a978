"""ASGI middleware that authenticates a request: ``Authorization: Bearer zs_…`` or the console session cookie.

It never refuses anything itself: it only sets ``scope["zhongshu_principal"]`` (a :class:`Principal` or None).
Refusing is the guards' job (:func:`hub.security.roles.enforce_roles`), so public routes stay reachable and
the decision of what a route needs lives in one place.
"""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from hub.security.roles import PRINCIPAL_SCOPE_KEY, Principal
from hub.security.sessions import SESSION_COOKIE, resolve_session
from hub.security.tokens import resolve_token

log = logging.getLogger("zhongshu.security")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def credentials(scope: Scope) -> tuple[str, str] | None:
    """``("token", value)`` or ``("session", value)`` from the request, or None."""
    auth = _header(scope, b"authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return "token", value.strip()
    cookie = _header(scope, b"cookie")
    if cookie:
        try:
            jar = SimpleCookie(cookie)
        except CookieError:
            return None
        if SESSION_COOKIE in jar and jar[SESSION_COOKIE].value:
            return "session", jar[SESSION_COOKIE].value
    return None


async def authenticate(sessionmaker: Any, scope: Scope) -> Principal | None:
    found = credentials(scope)
    if found is None:
        return None
    kind, value = found
    async with sessionmaker() as session:
        return await (resolve_token(session, value) if kind == "token" else resolve_session(session, value))


INT64 = (-(2**63), 2**63 - 1)


def input_problem(scope: Scope) -> tuple[int, str] | None:
    """Input no route can handle and the database would choke on (a 5xx otherwise): NUL characters in the
    path or query, or an integer path parameter beyond 64 bits. Checked once here for every route."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode()
    query = scope.get("query_string", b"")
    if b"\x00" in raw_path or b"%00" in raw_path.lower() or b"\x00" in query or b"%00" in query.lower():
        return 400, "NUL characters are not allowed in the path or query"
    for name, value in (scope.get("path_params") or {}).items():
        if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            return 404, f"{name} {value} is out of range: no such record"
    return None


async def _refuse(send: Send, status: int, detail: str) -> None:
    import json

    title = {400: "bad request", 404: "not found"}.get(status, "error")
    body = json.dumps({"type": "about:blank", "status": status, "title": title, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
        }
    )  # type: ignore[typeddict-item]
    await send({"type": "http.response.body", "body": body})  # type: ignore[typeddict-item]


class AuthMiddleware:
    """Litestar/ASGI middleware: ``Litestar(middleware=[AuthMiddleware])``. Also refuses input no route can
    handle (:func:`input_problem`) before anything else runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = input_problem(scope) if scope["type"] == "http" else None
            if problem is not None:
                await _refuse(send, *problem)
                return
            principal: Principal | None = None
            hub = getattr(scope["app"].state, "hub", None)  # type: ignore[index]
            if hub is not None:
                principal = await authenticate(hub.sessionmaker, scope)
            scope[PRINCIPAL_SCOPE_KEY] = principal  # type: ignore[literal-required]
            scope["zhongshu_user"] = principal.name if principal else None  # type: ignore[typeddict-unknown-key]
        await self.app(scope, receive, send)
