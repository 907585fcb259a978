"""The outbound-webhook subscriber a seed registers: it records every delivery it receives.

It answers 500 to the first attempt of every third message id (a subscriber having a bad moment), so the
hub's retries — and the id they must keep — are exercised; every other attempt gets 204. The invariant compares
what it saw with the hub's ``webhook_deliveries``: every delivery reached it, each message id always carried the
same event, and each event reached it under one message id.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    webhook_id: str
    event_uid: str
    event_type: str
    status: int


@dataclass
class Subscriber:
    """ASGI app; serve it with ``connectors.testing.run_sandbox``."""

    fail_every: int = 3
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: dict[str, int] = field(default_factory=dict)

    def seen(self) -> list[Received]:
        with self._lock:
            return list(self.received)

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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        webhook_id = headers.get("webhook-id", "")
        try:
            envelope = json.loads(body)
            uid, kind = str(envelope.get("id", "")), str(envelope.get("type", ""))
        except (ValueError, AttributeError):
            uid, kind = "", ""
        with self._lock:
            n = self._ids.setdefault(webhook_id, len(self._ids))
            first = not any(r.webhook_id == webhook_id for r in self.received)
            status = 500 if first and self.fail_every and n % self.fail_every == 2 else 204
            self.received.append(Received(webhook_id, uid, kind, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
