"""Which role each route needs, applied to a built app, and said in its OpenAPI schema.

:func:`secure_app` runs once on the finished :class:`~litestar.Litestar` app. For every HTTP handler that
declares no role itself (``guards=[requires(…)]`` or ``opt={"role": …}``) it looks the route up in
:data:`ROUTE_ROLES` (for controllers owned elsewhere); anything still undeclared stays undeclared and the
app-wide guard :func:`~hub.security.roles.enforce_roles` refuses it (fail closed). Each operation in the
OpenAPI schema then carries ``x-zhongshu-role``, a bearer/cookie ``security`` requirement and a line
"Requires role: …" in its description.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Litestar
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.openapi.spec import Components, Operation, SecurityScheme
from litestar.routes import HTTPRoute

from hub.security.roles import PUBLIC, Role, declared_role

# (method, path as Litestar spells it) -> role. Audit mode "users": only console users' requests are audited
# (integration tokens post at high volume; the ledger itself records those writes with lineage).
ROUTE_ROLES: dict[tuple[str, str], tuple[Role | str, str | None]] = {
    ("GET", "/health"): (PUBLIC, None),
    ("GET", "/metrics"): (Role.viewer, None),
    ("GET", "/api/v1/lineage/{node_id:str}"): (Role.viewer, None),
    # ledger: reads viewer; writes by integrations and people need operator
    ("GET", "/api/v1/movements"): (Role.viewer, None),
    ("GET", "/api/v1/stock/{sku:str}"): (Role.viewer, None),
    ("POST", "/api/v1/movements"): (Role.operator, "users"),
    ("POST", "/api/v1/reservations"): (Role.operator, "users"),
    ("POST", "/api/v1/reservations/{key:str}/ship"): (Role.operator, "users"),
    ("POST", "/api/v1/reservations/{key:str}/cancel"): (Role.operator, "users"),
    # pipeline
    ("GET", "/api/v1/sources"): (Role.viewer, None),
    ("POST", "/api/v1/sources"): (Role.admin, None),
    ("PATCH", "/api/v1/sources/{name:str}"): (Role.admin, None),
    ("POST", "/api/v1/sources/{source:str}/events"): (Role.operator, "users"),
    ("GET", "/api/v1/raw-events/{raw_id:int}"): (Role.viewer, None),
    ("POST", "/api/v1/observations"): (Role.operator, None),
    ("POST", "/api/v1/observations/upload"): (Role.operator, None),
    ("GET", "/api/v1/cube"): (Role.viewer, None),
    ("GET", "/api/v1/views/{name:str}"): (Role.viewer, None),
    ("GET", "/api/v1/decisions"): (Role.viewer, None),
    ("POST", "/api/v1/decisions/{decision_id:int}/approve"): (Role.operator, None),
    ("POST", "/api/v1/decisions/{decision_id:int}/reject"): (Role.operator, None),
    # sync
    ("GET", "/api/v1/pushes"): (Role.viewer, None),
    ("POST", "/api/v1/pushes/{push_id:int}/retry"): (Role.operator, None),
    ("GET", "/api/v1/listings"): (Role.viewer, None),
    ("PUT", "/api/v1/sources/{name:str}/listings/{sku:str}"): (Role.admin, None),
    ("POST", "/api/v1/sync/reconcile"): (Role.operator, None),
    # vouchers
    ("GET", "/api/v1/vouchers"): (Role.viewer, None),
    ("GET", "/api/v1/vouchers/{voucher_id:int}"): (Role.viewer, None),
    ("GET", "/api/v1/vouchers/reconciliation"): (Role.viewer, None),
    ("POST", "/api/v1/vouchers/{voucher_id:int}/retry"): (Role.operator, None),
    ("POST", "/api/v1/vouchers/unit-costs"): (Role.admin, None),
    # warehouse loop (hub/warehouse)
    ("GET", "/api/v1/warehouse/delivery-orders"): (Role.viewer, None),
    ("POST", "/api/v1/warehouse/delivery-orders"): (Role.operator, "users"),
    ("GET", "/api/v1/warehouse/entry-orders"): (Role.viewer, None),
    ("POST", "/api/v1/warehouse/entry-orders"): (Role.operator, "users"),
    ("GET", "/api/v1/warehouse/returns"): (Role.viewer, None),
    ("POST", "/api/v1/warehouse/returns"): (Role.operator, "users"),
    ("POST", "/api/v1/warehouse/stock-counts"): (Role.operator, "users"),
    ("GET", "/api/v1/stock/{sku:str}/batches"): (Role.viewer, None),
    ("GET", "/api/v1/alerts"): (Role.viewer, None),
}

PUBLIC_PREFIXES = ("/webhooks/",)
"""Signature-verified by the connector instead of a role."""
PUBLIC_PATHS = {"/console/login"}

SECURITY_SCHEMES = {
    "bearer": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="zs_… API token",
        description="An API token (`zhongshu tokens create`); shown once.",
    ),
    "session": SecurityScheme(
        type="apiKey", name="zhongshu_session", security_scheme_in="cookie", description="Console log-in session."
    ),
}

_OPERATION_CLASSES: dict[str, type[Operation]] = {}


def _operation_class(role: str) -> type[Operation]:
    """An Operation that also emits ``x-zhongshu-role`` (Litestar has no per-operation extensions)."""
    if role not in _OPERATION_CLASSES:
        _OPERATION_CLASSES[role] = dataclasses.make_dataclass(
            f"Operation_{role}",
            [("x_zhongshu_role", str, dataclasses.field(default=role, metadata={"alias": "x-zhongshu-role"}))],
            bases=(Operation,),
        )
    return _OPERATION_CLASSES[role]


def http_handlers(app: Litestar) -> list[tuple[HTTPRoute, HTTPRouteHandler]]:
    return [(r, h) for r in app.routes if isinstance(r, HTTPRoute) for h in r.route_handlers]


def _is_public_path(path: str, openapi_path: str) -> bool:
    return (
        path == openapi_path
        or path.startswith(openapi_path + "/")
        or path in PUBLIC_PATHS
        or path.startswith(PUBLIC_PREFIXES)
    )


def secure_app(app: Litestar) -> list[str]:
    """Declare roles from the table, document them in OpenAPI; returns the routes left undeclared (refused)."""
    openapi_path = ((app.openapi_config.path if app.openapi_config else None) or "/schema").rstrip("/")
    undeclared: list[str] = []
    for route, handler in http_handlers(app):
        methods = sorted(m for m in handler.http_methods)
        opt = handler.opt if handler.opt is not None else {}
        if declared_role(handler) is None:
            entry = next((ROUTE_ROLES[(m, route.path)] for m in methods if (m, route.path) in ROUTE_ROLES), None)
            if entry is not None:
                opt["role"] = entry[0] if entry[0] == PUBLIC else Role(entry[0]).value
                if entry[1] is not None and "audit" not in opt:
                    opt["audit"] = entry[1]
            elif methods == ["OPTIONS"] or _is_public_path(route.path, openapi_path):
                opt["role"] = PUBLIC  # CORS pre-flight answers carry no data; the schema is public
            handler.opt = opt
        role = declared_role(handler)
        if role is None:
            undeclared.append(f"{','.join(methods)} {route.path}")
            continue
        role_name = PUBLIC if role == PUBLIC else Role(role).value
        handler.operation_class = _operation_class(role_name)
        if role_name != PUBLIC:
            handler.security = [{"bearer": []}, {"session": []}]
            note = f"Requires role: **{role_name}** (or higher)."
        else:
            note = "Public: no credentials needed."
        base = handler.description or (handler.fn.__doc__ or "").strip()
        if note not in base:
            handler.description = f"{base}\n\n{note}".strip()
    _add_security_schemes(app)
    return undeclared


def _add_security_schemes(app: Litestar) -> None:
    config = app.openapi_config
    if config is None:
        return
    components: Any = config.components
    if isinstance(components, list):
        components.append(Components(security_schemes=SECURITY_SCHEMES))
    else:
        components.security_schemes = {**(components.security_schemes or {}), **SECURITY_SCHEMES}
