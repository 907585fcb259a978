"""The guarded transport refuses internal targets before any socket opens, and pins what it allows.

Refusals use stubbed resolvers and a backend that fails the test on any non-loopback dial; the
allowed cases talk only to a real receiver on 127.0.0.1.
"""

from __future__ import annotations

import httpx
import pytest

from webhooks.outbound.ssrf import SSRFGuard, SSRFPolicy, SSRFRefused, guarded_client

from .conftest import Receiver, RecordingBackend, StubResolver

LITERAL_TARGETS = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8000/admin",
    "http://[::1]/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",  # 169.254.169.254 in hex
    "http://[fd00:ec2::254]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://198.18.0.1/",
    "http://198.19.255.255/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://224.0.0.1/",
    "http://192.0.2.1/",
    "http://198.51.100.1/",
    "http://203.0.113.1/",
    "http://[ff02::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[2001:db8::1]/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of the metadata address
    "http://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
    "https://10.1.2.3:8443/hook",
]

RESOLVED_TARGETS = {
    "internal.test": ["10.0.0.1"],
    "meta.test": ["169.254.169.254"],
    "meta6.test": ["fd00:ec2::254"],
    "mixed.test": ["93.184.216.34", "10.0.0.1"],  # ANY blocked answer refuses
    "mixed6.test": ["2606:4700:4700::1111", "fe80::1"],
    "ula.test": ["fd12::1"],
    "mapped.test": ["::ffff:192.168.0.1"],
    "loop.test": ["127.0.0.1"],
    "cgnat.test": ["100.100.100.100"],
    "bench.test": ["198.18.0.7"],
    "zero.test": ["0.0.0.0"],
}


@pytest.mark.parametrize("url", LITERAL_TARGETS)
async def test_literal_internal_addresses_are_refused_before_connect(url: str, recording: RecordingBackend) -> None:
    resolver = StubResolver({})
    async with guarded_client(SSRFGuard(resolver=resolver), network_backend=recording) as client:
        with pytest.raises(SSRFRefused):
            await client.post(url, content=b"{}")
    assert recording.attempts == []
    assert resolver.calls == []  # literal addresses never reach DNS


@pytest.mark.parametrize("host", sorted(RESOLVED_TARGETS))
async def test_names_resolving_to_internal_addresses_are_refused_before_connect(
    host: str, recording: RecordingBackend
) -> None:
    resolver = StubResolver(dict(RESOLVED_TARGETS))
    async with guarded_client(SSRFGuard(resolver=resolver), network_backend=recording) as client:
        with pytest.raises(SSRFRefused) as refused:
            await client.post(f"https://{host}/hook", content=b"{}")
    assert refused.value.host == host
    assert resolver.calls == [host]
    assert recording.attempts == []


async def test_a_name_resolving_to_loopback_is_refused_by_default_and_allowed_when_listed(
    receiver: Receiver, recording: RecordingBackend
) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    resolver = StubResolver({"localhost": ["127.0.0.1"]})  # stubbed: a real lookup might query DNS
    async with guarded_client(SSRFGuard(resolver=resolver), network_backend=recording) as client:
        with pytest.raises(SSRFRefused, match="loopback"):
            await client.post(f"http://localhost:{port}/", content=b"{}")
    assert recording.attempts == [] and receiver.seen == []
    allowed = SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1"]), resolver=resolver)
    async with guarded_client(allowed, network_backend=recording) as client:
        assert (await client.post(f"http://localhost:{port}/", content=b"{}")).status_code == 200
    assert recording.attempts == [("127.0.0.1", port)]


async def test_credentials_in_url_are_refused(recording: RecordingBackend) -> None:
    async with guarded_client(SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1"])), network_backend=recording) as c:
        with pytest.raises(SSRFRefused, match="credentials"):
            await c.post("http://user:pw@127.0.0.1:9/", content=b"{}")
    assert recording.attempts == []


async def test_allow_listed_loopback_is_reached_and_pinned(receiver: Receiver, recording: RecordingBackend) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    guard = SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1/32"]))
    async with guarded_client(guard, network_backend=recording) as client:
        plain = await client.post(f"{receiver.url}/a", content=b"{}")
        hexed = await client.post(f"http://0x7f000001:{port}/b", content=b"{}")
    assert (plain.status_code, hexed.status_code) == (200, 200)
    assert [s.path for s in receiver.seen] == ["/a", "/b"]
    assert all(host == "127.0.0.1" for host, _ in recording.attempts) and recording.attempts


async def test_allow_listed_name_keeps_its_host_header_and_dials_the_checked_ip(
    receiver: Receiver, recording: RecordingBackend
) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    resolver = StubResolver({"receiver.test": ["127.0.0.1"]})
    guard = SSRFGuard(SSRFPolicy.from_allow_list(["receiver.test"]), resolver=resolver)
    async with guarded_client(guard, network_backend=recording) as client:
        response = await client.post(f"http://receiver.test:{port}/hook", content=b"{}")
    assert response.status_code == 200
    assert receiver.seen[0].headers["host"] == f"receiver.test:{port}"
    assert recording.attempts == [("127.0.0.1", port)]


async def test_dns_rebinding_after_the_check_cannot_reach_an_internal_address(
    receiver: Receiver, recording: RecordingBackend
) -> None:
    port = int(receiver.url.rsplit(":", 1)[1])
    # First answer is the allowed receiver; any later lookup would say 10.0.0.1.
    resolver = StubResolver({"rebind.test": [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]]})
    guard = SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1"]), resolver=resolver)
    async with guarded_client(guard, network_backend=recording) as client:
        first = await client.post(f"http://rebind.test:{port}/", content=b"{}")
    assert first.status_code == 200
    assert recording.attempts == [("127.0.0.1", port)]  # dialled the checked IP, not the name
    assert resolver.calls == ["rebind.test"]  # resolved once per connection, by the guard only
    async with guarded_client(guard, network_backend=recording) as client:  # fresh connection, new answer
        with pytest.raises(SSRFRefused, match="private 10.0.0.0/8"):
            await client.post(f"http://rebind.test:{port}/", content=b"{}")
    assert len(recording.attempts) == 1


async def test_response_body_is_read_only_up_to_the_limit(receiver: Receiver) -> None:
    from .conftest import Reply

    receiver.replies.append(Reply(body=b"x" * 1_000_000))
    guard = SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1"]))
    async with guarded_client(guard, max_response_bytes=1000) as client:
        response = await client.get(receiver.url)
    assert len(response.content) == 1000


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    from .conftest import Reply

    receiver.replies.append(Reply(status=302, headers=[("location", f"{receiver.url}/elsewhere")]))
    guard = SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1"]))
    async with guarded_client(guard) as client:
        response = await client.post(f"{receiver.url}/hook", content=b"{}")
    assert response.status_code == 302
    assert [s.path for s in receiver.seen] == ["/hook"]


async def test_unresolvable_name_is_a_connect_error_not_a_refusal(recording: RecordingBackend) -> None:
    async with guarded_client(SSRFGuard(resolver=StubResolver({"gone.test": []})), network_backend=recording) as c:
        with pytest.raises(httpx.ConnectError, match="no address"):
            await c.post("http://gone.test/", content=b"{}")
    assert recording.attempts == []
