"""A real HTTP receiver on 127.0.0.1 (uvicorn, port 0) and instruments for the SSRF tests.

``RecordingBackend`` is the network backend under the guard: it records every connect attempt and
fails the test outright if asked to dial anything that is not a loopback IP literal, so a test can
assert a refusal happened before any socket was opened.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

import httpcore
import pytest
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class RecordingBackend(httpcore.AnyIOBackend):
    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        try:
            loopback = ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            pytest.fail(f"guard let a connection through to {host!r}:{port} (only loopback IPs may be dialled)")
        return await super().connect_tcp(host, port, timeout, local_address, socket_options)


class StubResolver:
    """Answers from a table; a list of lists gives successive answers (to simulate DNS rebinding)."""

    def __init__(self, table: dict[str, Sequence[str] | list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answer = self.table[host]
        if answer and isinstance(answer[0], list):
            return list(answer.pop(0))  # type: ignore[union-attr, arg-type]
        return list(answer)  # type: ignore[arg-type]


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b'{"ok":true}'
    hold: bool = False  # wait until the test releases (for timeouts)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None


class Receiver:
    """ASGI app: records requests, verifies Standard Webhooks signatures if given a secret, replies from a script."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self.secret: str | None = None
        self.release = asyncio.Event()
        self.url = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        verified: bool | None = None
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        self.seen.append(Seen(scope["path"], headers, body, verified))
        reply = self.replies.pop(0) if self.replies else Reply()
        if reply.hold:
            await asyncio.wait_for(self.release.wait(), 10)
        raw_headers = [(b"content-type", b"application/json")]
        raw_headers += [(k.encode(), v.encode()) for k, v in reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": reply.body})


async def serve(app: Any, **config: Any) -> AsyncIterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    try:
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(autouse=True)
def no_name_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name lookups are forbidden here: a DNS query would leave loopback. Stub the resolver instead."""
    real = socket.getaddrinfo

    def numeric_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        text = host.decode() if isinstance(host, bytes) else host
        try:
            ip_address(str(text).split("%")[0])
        except ValueError:
            pytest.fail(f"test tried to resolve the name {host!r} (DNS would leave loopback; stub the resolver)")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = Receiver()
    async for port in serve(app):
        app.url = f"http://127.0.0.1:{port}"
        yield app
        app.release.set()


@pytest.fixture
def recording() -> RecordingBackend:
    return RecordingBackend()


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
