"""Per-source rate limit on ``/webhooks/*`` (the outbound hub has a tiny inbound bucket; see conftest)."""

from __future__ import annotations

import httpx


def test_source_over_its_rate_gets_429_with_retry_after(out_server) -> None:
    # out_server allows a burst of 3 per source and refills very slowly (see outbound conftest)
    statuses = [httpx.post(out_server.url + "/webhooks/douyin_flood", content=b"{}").status_code for _ in range(5)]
    assert statuses[:3].count(429) == 0 and statuses[3:] == [429, 429], statuses
    r = httpx.post(out_server.url + "/webhooks/douyin_flood", content=b"{}")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.headers["content-type"].startswith("application/problem+json")
    other = httpx.post(out_server.url + "/webhooks/douyin_other", content=b"{}")
    assert other.status_code != 429  # the limit is per source
