"""A tiny ERP-side receiver for WMS→hub calls, for tests and demos (serve it with ``run_sandbox``).

It records every call (query, headers, raw body), verifies it with ``QimenConnector.verify_push``
when given a connector, and answers the Qimen envelope in the call's format: success, or failure
for the first ``fail_first`` calls (to exercise the WMS's redelivery).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from connectors.base import PushedEvent, VerificationError

from .. import codec


@dataclass(frozen=True)
class Call:
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    event: PushedEvent | None = None
    refused: str | None = None

    @property
    def headers_with_query(self) -> dict[str, str]:
        """Headers plus the ``:query`` pseudo-header ``QimenConnector.verify_push`` reads."""
        return {**self.headers, ":query": urlencode(self.query)}


@dataclass
class QimenReceiver:
    connector: Any = None  # a QimenConnector, or None to record without verifying
    fail_first: int = 0
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        fmt = query.get("format", "xml") if query.get("format") in ("xml", "json") else "xml"
        event, refused = None, None
        if self.connector is not None:
            try:
                event = self.connector.verify_push(headers, body, now=time.time(), query=query)
            except VerificationError as exc:
                refused = exc.reason
        with self._lock:
            failing = self.fail_first > 0 and refused is None
            if failing:
                self.fail_first -= 1
            self.calls.append(Call(query, headers, body, event, refused))
        if refused is not None:
            payload, status = codec.failure("sign-check-failure", refused), 401
        elif failing:
            payload, status = codec.failure("SYSTEM_BUSY", "receiver told to fail"), 200
        else:
            payload, status = codec.success("success"), 200
        answer = codec.encode(payload, fmt, "response").encode("utf-8")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", codec.CONTENT_TYPES[fmt].encode())]})
        await send({"type": "http.response.body", "body": answer})

    def snapshot(self) -> list[Call]:
        with self._lock:
            return list(self.calls)

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[Call]:
        """Block until ``count`` calls arrived (or ``timeout``); return what arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.snapshot()
            if len(calls) >= count:
                return calls
            time.sleep(0.01)
        return self.snapshot()
