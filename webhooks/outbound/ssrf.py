"""SSRF guard for outbound deliveries to subscriber-supplied URLs.

Subscribers choose the URL, so without a guard a subscription could make the hub POST to its own
admin port, the database, a private network or the cloud metadata service. Following Svix, the
check happens after DNS resolution, on every address a name resolves to, and the connection is then
made to the checked address itself (pinned), so a DNS answer that changes between check and
connect (rebinding) cannot slip through. The Host header and TLS SNI/certificate check keep the
name, because the pinning happens below httpcore, in its network backend.

Numeric host forms that the C library accepts (``0x7f000001``, ``2130706433``, ``0177.0.0.1``,
``127.1``) are canonicalised with inet_aton's rules and then checked and pinned like any address.

Internal receivers (the demo, tests) are reached only through an explicit allow-list of CIDRs and
host names.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import httpcore
import httpx

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "GuardedNetworkBackend",
    "GuardedTransport",
    "HostUnresolvable",
    "Resolver",
    "SSRFGuard",
    "SSRFPolicy",
    "SSRFRefused",
    "Target",
    "blocked_reason",
    "canonical_address",
    "guarded_client",
    "parse_host_ip",
    "parse_url",
    "system_resolver",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
ALLOWED_SCHEMES = frozenset({"http", "https"})

# Order matters: the first match names the reason, so specific entries precede their supernets.
_BLOCKED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ip_network(cidr), label)
    for cidr, label in (
        ("169.254.169.254/32", "cloud metadata service"),
        ("fd00:ec2::254/128", "cloud metadata service (IPv6)"),
        ("0.0.0.0/8", "'this network' 0.0.0.0/8"),
        ("10.0.0.0/8", "private 10.0.0.0/8"),
        ("100.64.0.0/10", "carrier-grade NAT 100.64.0.0/10"),
        ("127.0.0.0/8", "loopback 127.0.0.0/8"),
        ("169.254.0.0/16", "link-local 169.254.0.0/16"),
        ("172.16.0.0/12", "private 172.16.0.0/12"),
        ("192.0.0.0/24", "IETF protocol assignments 192.0.0.0/24"),
        ("192.0.2.0/24", "documentation 192.0.2.0/24"),
        ("192.88.99.0/24", "6to4 relay anycast 192.88.99.0/24"),
        ("192.168.0.0/16", "private 192.168.0.0/16"),
        ("198.18.0.0/15", "benchmarking 198.18.0.0/15"),
        ("198.51.100.0/24", "documentation 198.51.100.0/24"),
        ("203.0.113.0/24", "documentation 203.0.113.0/24"),
        ("224.0.0.0/4", "multicast 224.0.0.0/4"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved 240.0.0.0/4"),
        ("::/128", "unspecified ::"),
        ("::1/128", "loopback ::1"),
        ("::/96", "IPv4-compatible ::/96 (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64 64:ff9b:1::/48"),
        ("100::/64", "discard-only 100::/64"),
        ("2001::/32", "Teredo 2001::/32"),
        ("2001:db8::/32", "documentation 2001:db8::/32"),
        ("fc00::/7", "unique local fc00::/7"),
        ("fe80::/10", "link-local fe80::/10"),
        ("fec0::/10", "site-local fec0::/10 (deprecated)"),
        ("ff00::/8", "multicast ff00::/8"),
    )
)
_NAT64 = ip_network("64:ff9b::/96")


class SSRFRefused(Exception):
    """A delivery target the guard will not connect to; raised before any socket is opened."""

    def __init__(self, reason: str, *, host: str | None = None, address: str | None = None) -> None:
        where = f" ({host}{' -> ' + address if address and address != host else ''})" if host else ""
        super().__init__(f"{reason}{where}")
        self.reason = reason
        self.host = host
        self.address = address


class HostUnresolvable(Exception):
    """The name did not resolve; a network failure, not a refusal (the delivery may be retried)."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # lower-case, no brackets, no trailing dot
    port: int


# ---------------------------------------------------------------- pure address rules


def _inet_aton_part(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:] or "0", 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or len(digits) > 12:
        return None
    try:
        return int(digits, base) if digits.isalnum() and digits.isascii() else None
    except ValueError:
        return None


def _inet_aton(host: str) -> IPv4Address | None:
    """IPv4 per inet_aton: 1–4 parts, each decimal, 0-octal or 0x-hex; the last part fills the rest."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    values = [_inet_aton_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    *head, last = [v for v in values if v is not None]
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for value in head:
        number = number << 8 | value
    return IPv4Address(number << 8 * (4 - len(head)) | last)


def normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_host_ip(host: str) -> IPAddress | None:
    """The address a host string denotes by itself (no DNS), as the socket layer reads it; else None."""
    text = normalise_host(host)
    if ":" in text:
        try:
            return IPv6Address(text)
        except ValueError:
            return None
    return _inet_aton(text)


def canonical_address(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form really reaches (mapped ::ffff:a.b.c.d, 6to4, NAT64); else ip."""
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be reached from the hub, or None when it is a public unicast address."""
    candidate = canonical_address(ip)  # judge where the packets really go
    for network, label in _BLOCKED:
        if candidate.version == network.version and candidate in network:
            return label
    if candidate.is_multicast:
        return "multicast"
    if not candidate.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True, slots=True)
class SSRFPolicy:
    """Exceptions to the block list: internal receivers an operator trusts explicitly."""

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_allow_list(cls, entries: Iterable[str]) -> SSRFPolicy:
        """Each entry is a CIDR (``10.1.0.0/16``), a single address (``127.0.0.1``, ``::1``) or a host name."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(normalise_host(entry))
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return normalise_host(host) in self.allow_hosts

    def allows_address(self, ip: IPAddress) -> bool:
        return any(c.version == n.version and c in n for c in (ip, canonical_address(ip)) for n in self.allow_networks)


def parse_url(url: str) -> Target:
    """Scheme, host and port of a delivery URL, refusing what can never be a webhook receiver."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise SSRFRefused(f"invalid URL: {exc}") from exc
    return target_of(parsed)


def target_of(url: httpx.URL) -> Target:
    if url.scheme not in ALLOWED_SCHEMES:
        raise SSRFRefused(f"scheme {url.scheme!r} not allowed, only http and https")
    if url.userinfo:
        raise SSRFRefused("credentials in the URL are not allowed", host=url.host)
    host = normalise_host(url.host)
    if not host:
        raise SSRFRefused("URL has no host")
    return Target(url.scheme, host, url.port or (443 if url.scheme == "https" else 80))


# ---------------------------------------------------------------- resolution


async def system_resolver(host: str, port: int) -> list[str]:
    """All addresses the OS resolver gives for ``host`` (A and AAAA), in its order."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostUnresolvable(f"cannot resolve {host!r}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class SSRFGuard:
    """Resolves a host once, checks every address, and returns the addresses safe to connect to."""

    def __init__(self, policy: SSRFPolicy | None = None, resolver: Resolver | None = None) -> None:
        self.policy = policy or SSRFPolicy()
        self._resolver = resolver or system_resolver

    def _check(self, host: str, ip: IPAddress, shown: str) -> None:
        reason = blocked_reason(ip)
        if reason and not self.policy.allows_address(ip):
            raise SSRFRefused(f"address is {reason}", host=host, address=shown)

    async def resolve(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """Checked addresses for ``host`` to connect to; refuses if ANY resolved address is blocked."""
        name = normalise_host(host)
        literal = parse_host_ip(name)
        if literal is not None:
            self._check(name, literal, str(literal))
            return [str(literal)]
        try:
            answers = await asyncio.wait_for(self._resolver(name, port), timeout)
        except TimeoutError as exc:
            raise HostUnresolvable(f"resolving {name!r} timed out") from exc
        if not answers:
            raise HostUnresolvable(f"{name!r} resolved to no address")
        addresses: list[str] = []
        for answer in answers:
            try:
                ip = ip_address(answer)
            except ValueError as exc:
                raise SSRFRefused(f"resolver returned a non-address {answer!r}", host=name) from exc
            if not self.policy.allows_host(name):
                self._check(name, ip, answer)
            addresses.append(answer)
        return addresses

    async def check_url(self, url: str) -> list[str]:
        """Pre-check for a subscription URL: parse, resolve, check. Delivery checks again at connect."""
        target = parse_url(url)
        return await self.resolve(target.host, target.port)


# ---------------------------------------------------------------- httpx / httpcore plumbing


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore backend that connects only to addresses the guard has just checked (pinned).

    httpcore hands us the URL's host; we resolve and check it, then dial the checked address, so the
    OS never resolves the name a second time. TLS above us still uses the name for SNI and the
    certificate check, and the Host header is untouched.
    """

    def __init__(self, guard: SSRFGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._guard.resolve(host, port, timeout)
        except HostUnresolvable as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise SSRFRefused("unix sockets are not allowed for deliveries", host=path)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CappedStream(httpx.AsyncByteStream):
    """Yields at most ``limit`` bytes of a response body, then stops reading (the connection is dropped)."""

    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        remaining = self._limit
        async for chunk in self._inner:
            if len(chunk) >= remaining:
                if remaining:
                    yield chunk[:remaining]
                return
            remaining -= len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport with the SSRF guard below it, no proxies from the environment, no retries,
    HTTP/1.1 only, and a cap on how many response bytes are ever read.

    ``network_backend`` is the backend that really dials (default: anyio); tests pass one that
    records every connect attempt.
    """

    def __init__(
        self,
        guard: SSRFGuard,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self.guard = guard
        self.max_response_bytes = max_response_bytes
        # httpx keeps its httpcore pool in ``_pool``; we build the same pool through httpcore's public
        # API with our backend (tests/integration/webhooks prove every connect goes through it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=GuardedNetworkBackend(guard, network_backend),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target_of(request.url)  # scheme and credentials, before any pooling or connecting
        response = await super().handle_async_request(request)
        response.stream = _CappedStream(response.stream, self.max_response_bytes)  # type: ignore[arg-type]
        return response


def guarded_client(
    guard: SSRFGuard | None = None,
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    verify: ssl.SSLContext | bool = True,
    network_backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The client deliveries use: guarded transport, redirects off, no environment proxies."""
    transport = GuardedTransport(
        guard or SSRFGuard(),
        max_response_bytes=max_response_bytes,
        verify=verify,
        network_backend=network_backend,
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)
