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


class AuthMiddleware:
    """Litestar/ASGI middleware: ``Litestar(middleware=[AuthMiddleware])``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            principal: Principal | None = None
            hub = getattr(scope["app"].state, "hub", None)  # type: ignore[index]
            if hub is not None:
                principal = await authenticate(hub.sessionmaker, scope)
            scope[PRINCIPAL_SCOPE_KEY] = principal  # type: ignore[literal-required]
            scope["zhongshu_user"] = principal.name if principal else None  # type: ignore[typeddict-unknown-key]
        await self.app(scope, receive, send)
