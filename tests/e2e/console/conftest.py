"""Console browser tests: a fresh PostgreSQL database, the real hub under uvicorn, users of each role,
and Debian's headless Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.migrate import upgrade
from tests.support.hubserver import HubServer

PG_ADMIN = os.environ.get("ZHONGSHU_TEST_PG", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
DB = f"zhongshu_console_{os.getpid()}"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
FIXTURES = Path(__file__).resolve().parents[3] / "mappings" / "fixtures"
# the README's screenshots are refreshed on purpose (ZHONGSHU_SCREENSHOTS=docs/screenshots make test), not by
# every test run: a run leaves the checkout as it found it
SCREENSHOTS = Path(os.environ.get("ZHONGSHU_SCREENSHOTS") or tempfile.gettempdir()) / (
    "" if os.environ.get("ZHONGSHU_SCREENSHOTS") else "zhongshu-console-screenshots")
USERS = {"admin": ("admin", "admin-pass-console-1"), "operator": ("olga", "operator-pass-1"),
         "viewer": ("victor", "viewer-pass-12")}  # fmt: skip


async def _recreate(name: str, *, drop_only: bool = False) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def run_async(make: Any) -> Any:
    """``asyncio.run(make())`` on a fresh thread: Playwright's sync API keeps a loop running on this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def run_db(settings: Settings, fn: Any) -> Any:
    """Run ``await fn(session)`` in a transaction on the test's own engine (the server's is bound to its loop)."""

    async def go() -> Any:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await fn(session)
        finally:
            await engine.dispose()

    return run_async(go)


@pytest.fixture(scope="module")
def console_settings() -> Iterator[Settings]:
    run_async(lambda: _recreate(DB))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    settings = Settings(database_url=f"{base}/{DB}", redis_url=None, admin_password=USERS["admin"][1])
    run_async(lambda: upgrade(settings))

    async def add_users(session: Any) -> None:
        from hub.security import create_user

        for role in ("operator", "viewer"):
            await create_user(session, USERS[role][0], USERS[role][1], role)

    run_db(settings, add_users)
    yield settings
    run_async(lambda: _recreate(DB, drop_only=True))


@pytest.fixture(scope="module")
def server(console_settings: Settings) -> Iterator[HubServer]:
    with HubServer(console_settings) as srv:
        yield srv


def client_as(server: HubServer, role: str) -> httpx.Client:
    """An HTTP client carrying a console session of ``role`` (the API accepts the same cookie)."""
    client = httpx.Client(base_url=server.url, timeout=15)
    username, password = USERS[role]
    r = client.post("/console/login", data={"username": username, "password": password, "next": "/console"})
    assert r.status_code == 303, r.text
    return client


@pytest.fixture(scope="module")
def admin_api(server: HubServer) -> Iterator[httpx.Client]:
    client = client_as(server, "admin")
    try:
        r = client.post("/api/v1/sources", json={"name": "wms", "platform": "qimen", "default_location": "WH-SH"})
        assert r.status_code in (201, 422), r.text
        yield client
    finally:
        client.close()


def fixture_payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def post_raw(api: httpx.Client, source: str, topic: str, payload: Any, event_id: str) -> int:
    headers = {"x-zhongshu-topic": topic, "x-zhongshu-event-id": event_id, "content-type": "application/json"}
    r = api.post(f"/api/v1/sources/{source}/events", content=json.dumps(payload, ensure_ascii=False), headers=headers)
    assert r.status_code == 202, r.text
    return int(r.json()["raw_event_id"])


def wait_processed(api: httpx.Client, raw_id: int, timeout: float = 15) -> dict[str, Any]:
    """Wait (bounded) until the pipeline job has handled a raw event; returns its final record."""
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/api/v1/raw-events/{raw_id}").json()
        if body["status"] != "pending":
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"raw event {raw_id} still pending: {body}")
        time.sleep(0.05)


def quarantine_for(api: httpx.Client, sku: str, *, wms_qty: int = 168, counted: int = 150) -> int:
    """WMS says ``wms_qty`` of ``sku`` at WH-SH; a hand-keyed franchise count contradicts it → a pending decision."""
    raw = post_raw(api, "wms", "inventory.query", {"flag": "success", "code": "0", "message": "ok", "items": {"item": [
        {"warehouseCode": "WH-SH", "itemCode": sku, "itemId": f"WMS-{sku}", "inventoryType": "ZP",
         "quantity": str(wms_qty)}]}}, f"wms-{sku}")  # fmt: skip
    assert wait_processed(api, raw)["status"] == "processed"
    manual = fixture_payload("manual/franchise_count")["payload"]
    rows = [{**manual["rows"][0], "sku": sku, "quantity": counted}]
    r = api.post("/api/v1/observations", json={"source": manual["source"], "rows": rows})
    assert r.status_code == 202, r.text
    assert wait_processed(api, int(r.json()["raw_event_id"]))["status"] == "processed"
    pending = api.get("/api/v1/decisions", params={"status": "pending", "sku": sku}).json()
    assert len(pending) == 1, pending
    return int(pending[0]["id"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def login_page(browser: Any, server: HubServer, role: str, *, lang: str = "en") -> Any:
    """A new browser context logged in through the log-in form."""
    context = browser.new_context(viewport={"width": 1366, "height": 800}, base_url=server.url)
    context.add_cookies([{"name": "lang", "value": lang, "url": server.url}])
    page = context.new_page()
    page.goto("/console/")
    assert "/console/login" in page.url  # not logged in: sent to the log-in page
    username, password = USERS[role]
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(lambda url: "/console/login" not in url)
    return page


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
