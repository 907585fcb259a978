"""API tokens (shown once, hashed, expiring, revocable), console sessions, users, the bootstrap admin."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from hub.security import create_session, end_session, ensure_admin, issue_token, login
from hub.security.sessions import SESSION_COOKIE
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.migrate import upgrade
from hub.storage.models import utcnow
from hub.storage.models_security import ApiToken, User
from tests.integration.security.conftest import bearer


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_token_shown_once_stored_hashed_then_revoked(hub_server, pg_db) -> None:
    admin = hub_server.auth
    r = httpx.post(hub_server.url + "/api/v1/tokens", headers=admin, json={"name": _name("erp"), "role": "operator"})
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["token"]
    assert token.startswith("zs_") and created["role"] == "operator" and created["expires_at"]
    listed = httpx.get(hub_server.url + "/api/v1/tokens", headers=admin).text
    assert token not in listed and token[9:] not in listed
    async with pg_db() as session:
        row = await session.get(ApiToken, created["id"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash

    me = httpx.get(hub_server.url + "/api/v1/me", headers=bearer(token)).json()
    assert me == {"id": f"token:{created['id']}", "name": created["name"], "role": "operator", "kind": "token"}
    revoked = httpx.delete(f"{hub_server.url}/api/v1/tokens/{created['id']}", headers=admin)
    assert revoked.json()["state"] == "revoked"
    assert httpx.get(hub_server.url + "/api/v1/me", headers=bearer(token)).status_code == 401


async def test_expired_token_is_refused(hub_server, pg_db) -> None:
    async with pg_db() as session, session.begin():
        issued = await issue_token(session, _name("old"), "admin", expires_at=utcnow() - timedelta(seconds=1))
        live = await issue_token(session, _name("new"), "viewer", expires_in=timedelta(hours=1))
    assert httpx.get(hub_server.url + "/api/v1/me", headers=bearer(issued.token)).status_code == 401
    assert httpx.get(hub_server.url + "/api/v1/me", headers=bearer(live.token)).status_code == 200


async def test_console_session_cookie_login_logout_and_disable(hub_server, pg_db) -> None:
    username, password = _name("ops"), "correct horse battery"
    r = httpx.post(
        hub_server.url + "/api/v1/users",
        headers=hub_server.auth,
        json={"username": username, "password": password, "role": "operator"},
    )
    assert r.status_code == 201, r.text
    assert "password" not in r.text and "scrypt" not in r.text
    user_id = r.json()["id"]
    async with pg_db() as session:
        assert await login(session, username, "wrong password!") is None
        assert await login(session, _name("nobody"), password) is None
        principal = await login(session, username, password)
        assert principal is not None and principal.role == "operator" and principal.kind == "user"
        stored = (await session.execute(select(User.password_hash).where(User.id == user_id))).scalar_one()
        assert stored.startswith("scrypt$") and password not in stored
    async with pg_db() as session, session.begin():
        cookie = await create_session(session, principal)
    jar = {SESSION_COOKIE: cookie}
    me = httpx.get(hub_server.url + "/api/v1/me", cookies=jar).json()
    assert me["name"] == username and me["role"] == "operator"
    assert httpx.get(hub_server.url + "/api/v1/users", cookies=jar).status_code == 403  # admin only

    async with pg_db() as session, session.begin():
        await end_session(session, cookie)
    assert httpx.get(hub_server.url + "/api/v1/me", cookies=jar).status_code == 401

    async with pg_db() as session, session.begin():
        cookie2 = await create_session(session, principal)
    assert httpx.get(hub_server.url + "/api/v1/me", cookies={SESSION_COOKIE: cookie2}).status_code == 200
    r = httpx.patch(f"{hub_server.url}/api/v1/users/{user_id}", headers=hub_server.auth, json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert httpx.get(hub_server.url + "/api/v1/me", cookies={SESSION_COOKIE: cookie2}).status_code == 401
    async with pg_db() as session:
        assert await login(session, username, password) is None


async def test_weak_password_and_bad_role_are_422(hub_server) -> None:
    weak = httpx.post(
        hub_server.url + "/api/v1/users",
        headers=hub_server.auth,
        json={"username": _name("u"), "password": "short", "role": "viewer"},
    )
    assert weak.status_code == 422 and "at least" in weak.json()["detail"]
    bad = httpx.post(
        hub_server.url + "/api/v1/users",
        headers=hub_server.auth,
        json={"username": _name("u"), "password": "long enough pw", "role": "root"},
    )
    assert bad.status_code == 422


async def test_ensure_admin_generates_once_in_embedded_mode(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db", var_dir=tmp_path)
    await upgrade(settings)
    engine = make_engine(settings)
    sm = make_sessionmaker(engine)
    try:
        async with sm() as session, session.begin():
            password = await ensure_admin(session, settings)
        assert password
        path = tmp_path / "admin-password.txt"
        assert path.read_text().strip() == password
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        async with sm() as session:
            principal = await login(session, "admin", password)
        assert principal is not None and principal.role == "admin"
        async with sm() as session, session.begin():
            assert await ensure_admin(session, settings) is None  # exists now: nothing generated
    finally:
        await engine.dispose()


async def test_ensure_admin_uses_the_setting_and_writes_no_file(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/b.db", var_dir=tmp_path, admin_password="a-configured-password"
    )
    await upgrade(settings)
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            assert await ensure_admin(session, settings) is None
        async with make_sessionmaker(engine)() as session:
            assert await login(session, "admin", "a-configured-password") is not None
        assert not (tmp_path / "admin-password.txt").exists()
    finally:
        await engine.dispose()


async def test_console_log_in_locks_a_username_after_five_wrong_passwords(hub_server, pg_db) -> None:
    from sqlalchemy import update

    from hub.storage.models_security import LoginFailures

    username, password = _name("guessed"), "correct horse battery"
    r = httpx.post(hub_server.url + "/api/v1/users", headers=hub_server.auth,
                   json={"username": username, "password": password, "role": "viewer"})
    assert r.status_code == 201, r.text

    def attempt(name: str, pw: str) -> httpx.Response:
        return httpx.post(hub_server.url + "/console/login", data={"username": name, "password": pw, "next": "/console"})

    assert [attempt(username, f"wrong guess {i}").status_code for i in range(5)] == [401, 401, 401, 401, 429]
    locked = attempt(username, password)  # even the right password waits out the lock
    assert locked.status_code == 429 and 290 <= int(locked.headers["retry-after"]) <= 301
    assert SESSION_COOKIE not in locked.cookies
    assert attempt(_name("other"), "wrong guess").status_code == 401  # other names are not affected
    async with pg_db() as session, session.begin():
        await session.execute(update(LoginFailures).where(LoginFailures.username == username)
                              .values(locked_until=utcnow() - timedelta(seconds=1)))  # the lock has passed
    ok = attempt(username, password)
    assert ok.status_code == 303 and SESSION_COOKIE in ok.cookies
    async with pg_db() as session:
        assert await session.get(LoginFailures, username) is None  # a success clears the count
    audit = httpx.get(hub_server.url + "/api/v1/audit", headers=hub_server.auth,
                      params={"action": "console.login_locked"}).json()
    assert any(e["target"] == username for e in (audit["entries"] if isinstance(audit, dict) else audit))
