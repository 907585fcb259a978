"""Audit entries for admin and operator actions: explicit ones with before/after, and the app-wide recorder
for operator routes owned elsewhere."""

from __future__ import annotations

import uuid

import httpx

from hub.security import create_session, login
from hub.security.sessions import SESSION_COOKIE
from tests.integration.security.conftest import bearer


def _audit(server, **params):  # type: ignore[no-untyped-def]
    r = httpx.get(server.url + "/api/v1/audit", headers=server.auth, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_admin_actions_are_audited_with_before_and_after(hub_server) -> None:
    username = f"aud-{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        hub_server.url + "/api/v1/users",
        headers=hub_server.auth,
        json={"username": username, "password": "long enough pw", "role": "viewer"},
    )
    user_id = r.json()["id"]
    httpx.patch(f"{hub_server.url}/api/v1/users/{user_id}", headers=hub_server.auth, json={"role": "operator"})
    entries = _audit(hub_server, target=f"user:{user_id}")
    assert [e["action"] for e in entries] == ["user.update", "user.create"]
    update = entries[0]
    assert update["before"]["role"] == "viewer" and update["after"]["role"] == "operator"
    assert update["actor"].startswith("token:") and update["actor_role"] == "admin"
    assert "long enough pw" not in str(entries)


def test_operator_route_owned_elsewhere_is_audited_by_the_recorder(hub_server) -> None:
    operator = hub_server.token("operator")
    source = f"manual_{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        hub_server.url + "/api/v1/observations",
        headers=bearer(operator),
        json={"source": source, "rows": [{"sku": "A", "location": "W", "stock_type": "on_hand", "quantity": 3}]},
    )
    assert r.status_code == 202, r.text
    entries = [
        e for e in _audit(hub_server, action="POST /api/v1/observations") if e["after"]["request"]["source"] == source
    ]
    assert len(entries) == 1
    assert entries[0]["actor_role"] == "operator" and entries[0]["after"]["status"] == 202


async def test_ledger_writes_audited_for_people_not_for_integration_tokens(hub_server, pg_db, sku) -> None:
    operator = hub_server.token("operator")
    body = {
        "movements": [
            {"key": f"k-{sku}-1", "sku": sku, "qty": 5, "from": "supplier", "to": "WH-MAIN/free", "kind": "receive"}
        ]
    }
    r = httpx.post(hub_server.url + "/api/v1/movements", headers=bearer(operator), json=body)
    assert r.status_code == 201, r.text
    username = f"clerk-{uuid.uuid4().hex[:6]}"
    httpx.post(
        hub_server.url + "/api/v1/users",
        headers=hub_server.auth,
        json={"username": username, "password": "long enough pw", "role": "operator"},
    )
    async with pg_db() as session, session.begin():
        principal = await login(session, username, "long enough pw")
        cookie = await create_session(session, principal)
    body["movements"][0]["key"] = f"k-{sku}-2"
    r = httpx.post(hub_server.url + "/api/v1/movements", cookies={SESSION_COOKIE: cookie}, json=body)
    assert r.status_code == 201, r.text
    mine = [e for e in _audit(hub_server, action="POST /api/v1/movements") if sku in str(e["after"])]
    assert [e["actor_name"] for e in mine] == [username]


def test_viewer_cannot_read_the_audit_log(hub_server) -> None:
    r = httpx.get(hub_server.url + "/api/v1/audit", headers=bearer(hub_server.token("viewer")))
    assert r.status_code == 403
