"""The database going away under a running hub: requests are answered 503 with Retry-After (never a 500 or a
traceback), and once it is back, the client's retry with the same key counts exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from hub.settings import Settings
from tests.support.hubserver import HubServer
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def proxied_hub(pg_settings: Settings) -> Iterator[tuple[HubServer, TcpProxy]]:
    url = urlsplit(pg_settings.database_url)
    with TcpProxy(url.port or 5432) as proxy:
        settings = pg_settings.model_copy(update={
            "database_url": pg_settings.database_url.replace(f":{url.port}/", f":{proxy.port}/")})  # fmt: skip
        with HubServer(settings) as server:
            yield server, proxy


def test_a_request_while_the_database_is_down_is_a_503_and_its_retry_counts_once(
    proxied_hub: tuple[HubServer, TcpProxy],
) -> None:
    server, proxy = proxied_hub
    sku = f"OUT-{uuid.uuid4().hex[:8]}"
    body = {"movements": [{"key": f"rcv-{sku}", "sku": sku, "qty": 5, "from": "supplier", "to": "WH1/free",
                           "kind": "receive"}]}  # fmt: skip
    with httpx.Client(base_url=server.url, headers=server.auth, timeout=30) as client:
        assert client.get(f"/api/v1/stock/{sku}").status_code == 200  # token cached, pool warm
        proxy.cut()
        for method, path, kw in (("POST", "/api/v1/movements", {"json": body}),
                                 ("GET", f"/api/v1/stock/{sku}", {})):  # fmt: skip
            r = client.request(method, path, **kw)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.headers["retry-after"] == "2"
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "retry" in r.json()["detail"] and "Traceback" not in r.text
        proxy.restore()
        for _ in range(2):  # the client's retry, then a duplicate of it
            r = client.post("/api/v1/movements", json=body)
            assert r.status_code == 201, r.text
        stock = client.get(f"/api/v1/stock/{sku}").json()
    assert {b["account"]: b["qty"] for b in stock["balances"]} == {"supplier": -5, "WH1/free": 5}
