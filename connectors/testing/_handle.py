"""Test-side handles: the running sandbox's operator API and a tiny webhook receiver."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectors.base import lower_headers

__all__ = ["Delivery", "Receiver", "SandboxHandle"]


@dataclass(frozen=True)
class Delivery:
    """One push the receiver got: lower-cased headers and the raw body."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An ASGI app that records every POST it receives and answers 200 (serve it with run_sandbox)."""

    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"].replace(".startup", ".startup.complete")
                            .replace(".shutdown", ".shutdown.complete")})
                if message["type"] == "lifespan.shutdown":
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = lower_headers({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        with self._lock:
            self.deliveries.append(Delivery(headers, body))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    def since(self, n: int) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries[n:])

    def __len__(self) -> int:
        with self._lock:
            return len(self.deliveries)


@dataclass
class SandboxHandle:
    """The operator side of a running sandbox (``/_sandbox/...``), plus its webhook receiver."""

    base_url: str
    receiver: Receiver

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = httpx.request(method, f"{self.base_url}{path}", timeout=10.0, **kw)
        if response.status_code >= 400:
            raise AssertionError(f"sandbox {method} {path} answered {response.status_code}: {response.text}")
        return response.json()

    def event(self, **body: Any) -> dict[str, Any]:
        """``event(type="order", sku="SKU-A", quantity=2)``; the push has been delivered on return."""
        return self._call("POST", "/_sandbox/events", json=body)  # type: ignore[no-any-return]

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "/_sandbox/log", params={"since": since})["requests"]  # type: ignore[no-any-return]

    def last_seq(self) -> int:
        entries = self.log()
        return int(entries[-1]["seq"]) if entries else 0

    def stock(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/stock")["stock"]  # type: ignore[no-any-return]

    def faults(self, **body: Any) -> dict[str, Any]:
        return self._call("POST", "/_sandbox/faults", json=body)  # type: ignore[no-any-return]
