"""A real webhook receiver on 127.0.0.1 (uvicorn on a free port, own thread) that verifies every request
with the ``standardwebhooks`` package and answers from a per-path script."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.hubserver import free_port


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None
    status: int


@dataclass
class Endpoint:
    secrets: list[str] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses for the next requests; then `default`
    default: int = 200
    hold: threading.Event | None = None  # wait for this before answering (to kill the hub mid-delivery)


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.endpoints: dict[str, Endpoint] = defaultdict(Endpoint)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def endpoint(self, path: str) -> str:
        return f"{self.url}{path}"

    def at(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        ep = self.endpoints[path]
        verified: bool | None = None
        if ep.secrets:
            verified = False
            for secret in ep.secrets:
                try:
                    Webhook(secret).verify(body, headers)
                    verified = True
                    break
                except WebhookVerificationError:
                    pass
        with self._lock:
            status = ep.script.pop(0) if ep.script else ep.default
            self.seen.append(Seen(path, headers, body, verified, status))
        if ep.hold is not None:
            while not ep.hold.is_set():
                import asyncio

                await asyncio.sleep(0.02)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"nope"})

    def __enter__(self) -> Receiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
