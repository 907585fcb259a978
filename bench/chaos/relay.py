"""The network between the platforms and the hub, under the campaign's control.

Each sandbox pushes its signed webhooks to the relay (``/<source>``) instead of the hub. The relay keeps
the exact bytes and headers and answers the sandbox as the hub would on success; the campaign then
delivers every capture to the hub itself — at once, held back and reordered, duplicated 1–3×, or late
(replayed after the workload) — retrying each until the hub acknowledges it, the way Shopify (8 tries
over 4 h) and Douyin retry. A capture counts as *acknowledged* when one delivery got the platform's
success answer; only acknowledged events enter the model.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

DOUYIN_ACK = b'{"code":0,"msg":"success"}'
QIMEN_ACK = b"<?xml version='1.0' encoding='utf-8'?><response><flag>success</flag><code>0</code><message></message></response>"
DROP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding", "user-agent", "accept"})


@dataclass
class Capture:
    seq: int
    source: str
    headers: dict[str, str]
    body: bytes
    at: float
    event_ids: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    acked: bool = False
    deliveries: int = 0
    refused: str = ""
    query: str = ""  # Qimen signs its URL parameters: they travel with the body


def describe(platform: str, headers: dict[str, str], body: bytes) -> tuple[list[str], list[str]]:
    """The platform event ids and topics a push carries (the hub dedupes on exactly these)."""
    if platform == "shopify":
        return [headers.get("x-shopify-event-id", "")], [headers.get("x-shopify-topic", "")]
    if platform == "douyin":
        try:
            messages = json.loads(body)
        except ValueError:
            return [], []
        return [f"douyin-msg:{m.get('msg_id')}" for m in messages], [str(m.get("tag")) for m in messages]
    return [], []


class Relay:
    """ASGI app; serve it with ``connectors.testing.run_sandbox``. ``platforms`` maps source → platform."""

    def __init__(self) -> None:
        self.platforms: dict[str, str] = {}
        self._captures: list[Capture] = []
        self._taken = 0
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def take(self) -> list[Capture]:
        """Captures not handed out yet, in arrival order."""
        with self._lock:
            new = self._captures[self._taken:]
            self._taken = len(self._captures)
            return new

    @property
    def captures(self) -> list[Capture]:
        with self._lock:
            return list(self._captures)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                done = message["type"].replace(".startup", ".startup.complete").replace(".shutdown", ".shutdown.complete")
                await send({"type": done})
                if message["type"] == "lifespan.shutdown":
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        source = scope["path"].strip("/")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        headers = {k: v for k, v in headers.items() if k not in DROP_HEADERS}
        platform = self.platforms.get(source, "")
        ids, topics = describe(platform, headers, body)
        with self._lock:
            self._captures.append(Capture(next(self._seq), source, headers, body, time.time(), ids, topics,
                                          query=scope.get("query_string", b"").decode("latin-1")))  # fmt: skip
        answer = DOUYIN_ACK if platform == "douyin" else QIMEN_ACK if platform == "qimen" else b"ok"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})
