"""Subscriptions to loopback, private, link-local and metadata addresses are refused unless allow-listed.

Names are resolved through a stubbed resolver and no socket is ever opened to a non-loopback address: a
Python audit hook records every socket connect during the checks.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest

from hub.domain.errors import InvalidRequest
from hub.outbound import network
from hub.outbound.subscriptions import check_url
from hub.settings import Settings

CONNECTS: list[object] = []
_RECORDING = [False]


def _hook(event: str, args: tuple[object, ...]) -> None:
    # module globals are None during interpreter shutdown, when audit hooks still run
    if _RECORDING and _RECORDING[0] and event == "socket.connect":
        CONNECTS.append(args[1])


sys.addaudithook(_hook)

STUB = {
    "loopback.test": ["127.0.0.1"],
    "loopback6.test": ["::1"],
    "ten.test": ["10.1.2.3"],
    "oneseventwo.test": ["172.16.5.4"],
    "oneninetwo.test": ["192.168.1.1"],
    "linklocal.test": ["169.254.10.10"],
    "metadata.test": ["169.254.169.254"],
    "ula.test": ["fc00::1"],
    "fe80.test": ["fe80::1"],
    "mixed.test": ["127.0.0.1", "10.0.0.1"],
}


async def stub_resolver(host: str, port: int) -> list[str]:
    return list(STUB[host])


@pytest.fixture
def stubbed_dns() -> Iterator[None]:
    network.set_resolver(stub_resolver)
    CONNECTS.clear()
    _RECORDING[0] = True
    try:
        yield
    finally:
        _RECORDING[0] = False
        network.set_resolver(None)


LOOPBACK = [
    "http://127.0.0.1:9/hook",
    "http://[::1]:9/hook",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "http://127.1/hook",
    "http://loopback.test/hook",
    "http://loopback6.test/hook",
]
PRIVATE = [
    "http://ten.test/",
    "http://oneseventwo.test/",
    "http://oneninetwo.test/",
    "http://linklocal.test/",
    "http://metadata.test/latest/meta-data",
    "http://ula.test/",
    "http://fe80.test/",
    "http://mixed.test/",
    "http://10.0.0.1/",
    "http://169.254.169.254/",
    "http://[fc00::1]/",
    "http://192.168.0.1/",
]


@pytest.mark.parametrize("url", LOOPBACK + PRIVATE)
async def test_refused_by_default_before_any_socket(url: str, stubbed_dns: None) -> None:
    with pytest.raises(InvalidRequest) as err:
        await check_url(Settings(webhook_allow=[]), url)
    assert err.value.extra["reason"] == "ssrf"
    assert CONNECTS == []


@pytest.mark.parametrize("url", LOOPBACK)
async def test_loopback_allowed_only_when_allow_listed(url: str, stubbed_dns: None) -> None:
    await check_url(Settings(webhook_allow=["127.0.0.1", "::1"]), url)
    with pytest.raises(InvalidRequest):
        await check_url(Settings(webhook_allow=["10.9.9.9"]), url)  # an unrelated entry allows nothing else
    assert CONNECTS == []


async def test_private_allowed_by_cidr_entry(stubbed_dns: None) -> None:
    await check_url(Settings(webhook_allow=["10.0.0.0/8"]), "http://ten.test/")
    with pytest.raises(InvalidRequest):
        await check_url(Settings(webhook_allow=["10.0.0.0/8"]), "http://mixed.test/")  # 127.0.0.1 is not in it
    assert CONNECTS == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http://user:pw@loopback.test/", "not a url", "http:///x"])
async def test_unusable_urls_refused(url: str, stubbed_dns: None) -> None:
    with pytest.raises(InvalidRequest):
        await check_url(Settings(webhook_allow=["127.0.0.1"]), url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://[::1]:9/hook", "http://0x7f000001/hook", "http://loopback.test/hook"]
)
def test_api_refuses_without_allow_list_and_accepts_with_it(
    url: str, stubbed_dns: None, hub_server, out_server
) -> None:
    body = {"url": url, "event_types": ["test.never"]}
    refused = httpx.post(hub_server.url + "/api/v1/subscriptions", json=body, headers=hub_server.auth)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "loopback" in refused.json()["detail"]
    accepted = httpx.post(out_server.url + "/api/v1/subscriptions", json=body, headers=out_server.auth)
    assert accepted.status_code == 201, accepted.text
    httpx.delete(f"{out_server.url}/api/v1/subscriptions/{accepted.json()['id']}", headers=out_server.auth)
