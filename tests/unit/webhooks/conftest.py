"""Every webhooks test runs with name lookups forbidden: a DNS query would leave loopback."""

from __future__ import annotations

import socket
from ipaddress import ip_address
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_name_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def numeric_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else host
        try:
            ip_address(str(text).split("%")[0])
        except ValueError:
            pytest.fail(f"test tried to resolve the name {host!r} (DNS would leave loopback; stub the resolver)")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
