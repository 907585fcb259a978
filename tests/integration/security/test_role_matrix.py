"""Every route declares a role; no token → 401, a token one role too low → 403, for every (route × method)
taken from the app's own route table; the OpenAPI schema says which role each route needs."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest
import uvicorn
from litestar import Litestar, get

from hub.api.app import create_app
from hub.security import PUBLIC, Role, enforce_roles, secure_app
from hub.security.roles import declared_role
from hub.security.routes import http_handlers
from tests.integration.security.conftest import bearer
from tests.support.hubserver import free_port

LOWER = {Role.operator: Role.viewer, Role.admin: Role.operator}


def _concrete(path: str) -> str:
    def fill(m: re.Match[str]) -> str:
        kind = m.group(2)
        return "987654321" if kind == "int" else "x.css" if kind == "path" else "x"

    return re.sub(r"\{(\w+):(\w+)\}", fill, path)


def _matrix(app: Litestar) -> list[tuple[str, str, Role | str]]:
    rows = []
    for route, handler in http_handlers(app):
        for method in sorted(handler.http_methods):
            if method in ("OPTIONS", "HEAD"):
                continue
            rows.append((method, route.path, declared_role(handler)))
    return rows


def test_every_route_declares_a_role(pg_settings) -> None:
    app = create_app(pg_settings)
    assert secure_app(app) == []
    missing = [(m, p) for m, p, role in _matrix(app) if role is None]
    assert missing == []
    assert len(_matrix(app)) > 30


def test_public_routes_are_exactly_the_intended_ones(hub_server) -> None:
    public = sorted({p for _, p, role in _matrix(hub_server.app) if role == PUBLIC})
    allowed = re.compile(r"^(/health|/schema(/.*)?|/webhooks/.*|/console/login|/console/static/.*|/console/lang/.*)$")
    assert [p for p in public if not allowed.match(p)] == []


def test_no_token_401_and_too_low_role_403_on_every_route(hub_server) -> None:
    tokens = {role: hub_server.token(role.value) for role in Role}
    checked = 0
    with httpx.Client(base_url=hub_server.url, timeout=30, follow_redirects=False) as client:
        for method, path, role in _matrix(hub_server.app):
            if role == PUBLIC:
                continue
            url = _concrete(path)
            anonymous = client.request(method, url)
            if path.startswith("/console") and anonymous.status_code in (302, 303):  # people go to the log-in page
                assert "/console/login" in anonymous.headers["location"], (method, path)
            else:
                assert anonymous.status_code == 401, (method, path, anonymous.status_code, anonymous.text[:200])
            if not path.startswith("/console"):  # console pages answer people with HTML instead
                assert anonymous.headers["content-type"].startswith("application/problem+json"), (method, path)
                assert anonymous.headers.get("www-authenticate", "").startswith("Bearer")
            forged = client.request(method, url, headers=bearer("zs_not-a-real-token"))
            assert forged.status_code == anonymous.status_code, (method, path)  # an unknown token is nobody
            if role in LOWER:
                low = client.request(method, url, headers=bearer(tokens[LOWER[role]]))
                assert low.status_code == 403, (method, path, role, low.status_code, low.text[:200])
            ok = client.request(method, url, headers=bearer(tokens[Role(role)]))
            assert ok.status_code not in (401, 403), (method, path, role, ok.status_code, ok.text[:200])
            checked += 1
    assert checked > 25


def test_openapi_says_which_role_each_route_needs(hub_server) -> None:
    schema = httpx.get(hub_server.url + "/schema/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    roles = {
        (m.upper(), p): op.get("x-zhongshu-role")
        for p, item in schema["paths"].items()
        for m, op in item.items()
        if isinstance(op, dict) and "responses" in op
    }
    assert roles and all(r in ("viewer", "operator", "admin", "public") for r in roles.values()), roles
    assert roles[("POST", "/api/v1/movements")] == "operator"
    assert roles[("POST", "/api/v1/subscriptions")] == "admin"
    assert roles[("GET", "/api/v1/stock/{sku}")] == "viewer"
    op = schema["paths"]["/api/v1/users"]["post"]
    assert {"bearer": []} in op["security"] and "Requires role: **admin**" in op["description"]


def test_a_route_without_a_declared_role_is_refused() -> None:
    @get("/forgotten", sync_to_thread=False)
    def forgotten() -> str:
        return "should never be served"

    @get("/declared", sync_to_thread=False, opt={"role": PUBLIC})
    def declared() -> str:
        return "fine"

    app = Litestar([forgotten, declared], guards=[enforce_roles])
    assert secure_app(app) == ["GET /forgotten"]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        assert httpx.get(f"http://127.0.0.1:{port}/declared").text == "fine"
        refused = httpx.get(f"http://127.0.0.1:{port}/forgotten")
        assert refused.status_code == 403 and "declares no role" in refused.text
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.mark.parametrize("role,expected", [(Role.viewer, False), (Role.operator, True), (Role.admin, True)])
def test_role_order(role: Role, expected: bool) -> None:
    assert role.includes(Role.operator) is expected
    assert role.includes(Role.viewer)
