"""``/webhooks/*``: bodies over 1 MiB get 413 before the body is read; a source over its rate gets 429 with
Retry-After; both as problem JSON."""

from __future__ import annotations

import httpx

from tests.integration.security.conftest import bearer


def test_oversize_webhook_body_is_413(hub_server) -> None:
    r = httpx.post(
        hub_server.url + "/webhooks/taobao_big",
        content=b"x" * (1024 * 1024 + 1),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "1048576" in r.json()["detail"]


def test_oversize_api_body_is_413_problem_json(hub_server) -> None:
    r = httpx.post(
        hub_server.url + "/api/v1/sources/manual_x/events",
        content=b"[" + b"1," * 600_000 + b"1]",
        headers={**bearer(hub_server.token("operator")), "x-zhongshu-topic": "t", "x-zhongshu-event-id": "big"},
    )
    assert r.status_code == 413, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
