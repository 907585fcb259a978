"""Pure SSRF rules: address classes, numeric host forms, URL checks, allow-list, resolver answers."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from webhooks.outbound.ssrf import (
    HostUnresolvable,
    SSRFGuard,
    SSRFPolicy,
    SSRFRefused,
    blocked_reason,
    parse_host_ip,
    parse_url,
    system_resolver,
)

# Svix's unit-test list (webhook_http_client.rs) plus the ranges the issue names.
BLOCKED = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.0.1",
    "169.254.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.1",
    "192.0.2.1",
    "192.168.0.1",
    "198.18.0.1",
    "198.19.0.1",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",
    "239.255.255.255",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "fe80::1",
    "febf::1",
    "fc00::1",
    "fdff::1",
    "fd00:ec2::254",
    "ff00::1",
    "ff02::1",
    "2001:db8::1",
    "64:ff9b::a9fe:a9fe",
    "2002:c0a8:0001::1",
    "::7f00:1",
    "100::1",
]
ALLOWED = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.128.0.1",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_internal_addresses_are_blocked(address: str) -> None:
    assert blocked_reason(ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert blocked_reason(ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("198.18.0.1", "benchmarking"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_reasons_name_the_range(address: str, label: str) -> None:
    assert label in (blocked_reason(ip_address(address)) or "")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0xA9FEA9FE", "169.254.169.254"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("10.1", "10.0.0.1"),
        ("192.168.1", "192.168.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ],
)
def test_numeric_host_forms_are_read_like_inet_aton(host: str, expected: str) -> None:
    assert parse_host_ip(host) == ip_address(expected)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.com", "08.0.0.1", "256.1.1.1.1", "1..2", "0x1g", "4294967296"])
def test_names_and_invalid_numbers_are_not_addresses(host: str) -> None:
    assert parse_host_ip(host) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://x/", "scheme"),
        ("http://user:pw@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("http:///path", "host"),
        ("http://[::1/", "invalid URL"),
    ],
)
def test_urls_that_can_never_be_receivers_are_refused(url: str, reason: str) -> None:
    with pytest.raises(SSRFRefused, match=reason):
        parse_url(url)


def test_parse_url_fills_default_ports() -> None:
    assert parse_url("https://Hooks.Example.COM./x").port == 443
    assert parse_url("https://Hooks.Example.COM./x").host == "hooks.example.com"
    assert parse_url("http://a.example:8080").port == 8080


class Stub:
    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.answers


async def test_check_url_returns_the_checked_public_addresses_without_connecting() -> None:
    guard = SSRFGuard(resolver=Stub(["93.184.216.34", "2606:4700:4700::1111"]))
    assert await guard.check_url("https://hooks.example.com/x") == ["93.184.216.34", "2606:4700:4700::1111"]


@pytest.mark.parametrize("url", ["http://0177.0.0.1/", "http://127.0.0.1/", "http://[::1]/", "http://0x7f000001/"])
async def test_loopback_refused_by_default_and_allowed_when_listed(url: str) -> None:
    with pytest.raises(SSRFRefused):
        await SSRFGuard().resolve(url.split("//")[1].rstrip("/"), 80)
    allowed = SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.0/8", "::1"]))
    assert len(await allowed.resolve(url.split("//")[1].rstrip("/"), 80)) == 1


async def test_any_blocked_answer_refuses_the_whole_name() -> None:
    guard = SSRFGuard(resolver=Stub(["8.8.8.8", "192.168.0.10"]))
    with pytest.raises(SSRFRefused, match="192.168.0.10"):
        await guard.check_url("https://mixed.example/")


async def test_allow_list_by_cidr_and_by_name() -> None:
    policy = SSRFPolicy.from_allow_list(["10.20.0.0/16", "erp.internal", " "])
    assert policy.allow_hosts == frozenset({"erp.internal"})
    assert await SSRFGuard(policy, Stub(["10.20.1.2"])).resolve("wms.internal", 443) == ["10.20.1.2"]
    with pytest.raises(SSRFRefused):
        await SSRFGuard(policy, Stub(["10.21.1.2"])).resolve("wms.internal", 443)
    assert await SSRFGuard(policy, Stub(["192.168.9.9"])).resolve("ERP.internal.", 443) == ["192.168.9.9"]
    assert policy.allows_address(IPv4Address("10.20.0.1"))


async def test_resolver_problems_are_unresolvable_not_refusals() -> None:
    with pytest.raises(HostUnresolvable):
        await SSRFGuard(resolver=Stub([])).resolve("nothing.example", 80)
    with pytest.raises(SSRFRefused, match="non-address"):
        await SSRFGuard(resolver=Stub(["not-an-ip"])).resolve("odd.example", 80)


async def test_system_resolver_reads_numeric_hosts_without_any_lookup() -> None:
    # Only numeric hosts: a name would send a DNS query to a non-loopback nameserver.
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]
    assert await system_resolver("::1", 80) == ["::1"]
