"""Roles, principals and the guards that enforce them.

Three roles, each including the one below: ``viewer`` (read) ⊂ ``operator`` (resolve quarantine, retry,
replay, ledger writes) ⊂ ``admin`` (sources, connectors, rules, secrets, users, subscriptions, audit).

Every route must declare what it needs; :func:`enforce_roles` is an app-wide guard that DENIES a route that
declares nothing, so a new route added without thought fails closed instead of open. A route declares its
role with ``guards=[requires(Role.operator)]``, ``opt={"role": "operator"}`` / ``opt={"role": PUBLIC}``, or
an entry in :data:`hub.security.routes.ROUTE_ROLES` (for controllers whose files this package does not own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

PRINCIPAL_SCOPE_KEY = "zhongshu_principal"
PUBLIC = "public"
"""The declared 'role' of a route anyone may call (``/health``, ``/schema``, ``/webhooks/*``, log-in)."""

WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="zhongshu"'}


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: Role | str) -> bool:
        """``admin.includes(viewer)`` is True: a higher role may do everything a lower one may."""
        return self.rank >= _RANK[Role(other)]


_RANK = {Role.viewer: 1, Role.operator: 2, Role.admin: 3}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a console user (``kind="user"``) or an API token (``kind="token"``)."""

    id: str  # "user:3" / "token:7"
    name: str
    role: Role
    kind: Literal["user", "token"]

    def may(self, role: Role | str) -> bool:
        return self.role.includes(role)


Guard = Callable[[ASGIConnection, BaseRouteHandler], None]  # type: ignore[type-arg]


def current_principal(connection: Any) -> Principal | None:
    """The authenticated principal of a request/connection (set by the auth middleware), or None."""
    scope = connection.scope if hasattr(connection, "scope") else connection
    principal = scope.get(PRINCIPAL_SCOPE_KEY)
    return principal if isinstance(principal, Principal) else None


def check(principal: Principal | None, role: Role | str) -> None:
    """Raise 401 without a principal, 403 when its role is below ``role``."""
    if principal is None:
        raise NotAuthorizedException(
            "authentication required: send 'Authorization: Bearer zs_…' or log in to the console",
            headers=WWW_AUTHENTICATE,
        )
    if not principal.may(role):
        raise PermissionDeniedException(f"role {principal.role.value!r} may not do this; it needs {Role(role).value!r}")


def requires(role: Role | str) -> Guard:
    """A Litestar guard: 401 when nobody is authenticated, 403 when the principal's role is too low."""
    needed = Role(role)

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        check(current_principal(connection), needed)

    guard.zhongshu_role = needed  # type: ignore[attr-defined]
    guard.__name__ = f"requires_{needed.value}"
    return guard


def declared_role(handler: BaseRouteHandler) -> Role | str | None:
    """What a handler declares: a Role, :data:`PUBLIC`, or None (undeclared: denied)."""
    opt_role = handler.opt.get("role") if handler.opt else None
    if opt_role is not None:
        return PUBLIC if opt_role == PUBLIC else Role(opt_role)
    guards = [getattr(g, "func", g) for g in (handler.resolve_guards() or [])]  # Litestar wraps them
    roles = [g.zhongshu_role for g in guards if hasattr(g, "zhongshu_role")]
    return max(roles, key=lambda r: r.rank) if roles else None


def enforce_roles(connection: ASGIConnection, handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """App-wide guard. Undeclared routes are refused (fail closed); declared ones are checked."""
    role = declared_role(handler)
    if role is None:
        raise PermissionDeniedException(
            f"route {connection.scope.get('path')!r} declares no role; refusing (a route must declare one)"
        )
    if role != PUBLIC:
        check(current_principal(connection), role)
