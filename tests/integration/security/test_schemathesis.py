"""Schemathesis against the live OpenAPI schema with an admin token: no operation may answer 5xx.

Runs on its own database with no job runner (nothing generated here is ever delivered or pushed) and a
stubbed DNS resolver (random subscription URLs are never looked up on the network).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from hub.outbound import network
from hub.settings import Settings
from hub.storage.migrate import upgrade
from tests.conftest import PG_DB, _drop_pg_database, _recreate_pg_database, pg_url
from tests.support.hubserver import HubServer

DB = f"{PG_DB}_schemathesis"
SKIP = {("DELETE", "/api/v1/tokens/{token_id}")}  # would revoke the token the run itself uses


async def _nowhere(host: str, port: int) -> list[str]:
    from webhooks.outbound.ssrf import HostUnresolvable

    raise HostUnresolvable(f"{host!r}: no DNS in tests")


@pytest.fixture(scope="module")
def st_server() -> Iterator[HubServer]:
    asyncio.run(_recreate_pg_database(DB))
    s = Settings(database_url=pg_url(DB), redis_url=None, run_jobs_in_api=False)
    asyncio.run(upgrade(s))
    network.set_resolver(_nowhere)
    try:
        with HubServer(s) as server:
            yield server
    finally:
        network.set_resolver(None)
        asyncio.run(_drop_pg_database(DB))


def test_no_operation_answers_5xx(st_server: HubServer) -> None:
    raw = httpx.get(st_server.url + "/schema/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    auth = st_server.auth
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        operations += 1

        @settings(
            max_examples=10, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(base_url=st_server.url, headers=auth)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.300} "
                    f"-> {response.status_code} {response.text[:300]}"
                )

        check()
    assert operations > 20
    assert failures == [], "\n".join(failures)
