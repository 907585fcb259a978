"""Shopify-faithful answers for the generic fault kinds, plus request logging middleware."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from litestar import Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from connectors.testing.operator import Faults, RequestLog

from ..constants import INVALID_TOKEN

REST_FAULTS: dict[str, tuple[int, Any]] = {
    "auth": (401, {"errors": INVALID_TOKEN}),
    "server": (503, {"errors": "Service Unavailable"}),
    "not_found": (404, {"errors": "Not Found"}),
    "invalid": (422, {"errors": {"base": ["sandbox forced validation error"]}}),
}
SERVER_ERROR = REST_FAULTS["server"][1]
LOST_ANSWER = "zhongshu.lost_answer"
"""Scope key the guard sets on a request whose answer is lost (``Faults.lose_answers``)."""
RATE_LIMIT_TEXT = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."


def too_many(retry_after: float) -> Response[Any]:
    return Response({"errors": RATE_LIMIT_TEXT}, status_code=429, headers={"Retry-After": f"{retry_after:.1f}"})


def fault_response(kind: str, *, retry_after: float) -> Response[Any]:
    if kind == "rate_limit":
        return too_many(retry_after)
    status, body = REST_FAULTS[kind]
    return Response(body, status_code=status)


class LogMiddleware:
    """Records every non-operator request (arrival time, path, body, answered status); adds latency
    and the ``X-Shopify-Shop-Api-Call-Limit`` header on Admin API answers."""

    def __init__(self, app: ASGIApp, *, log: RequestLog, faults: Faults, call_limit: Any) -> None:
        self.app, self.log, self.faults, self.call_limit = app, log, faults, call_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        entry = self.log.add(method=scope["method"], path=path, query=scope.get("query_string", b"").decode(),
                             body=body, headers=headers)
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if scope.get(LOST_ANSWER):  # carried out, but the answer never reaches the caller
                if message["type"] == "http.response.start":
                    entry["status"] = 503
                    self.log.set_status(entry["seq"], 503)
                    lost = json.dumps(SERVER_ERROR).encode()
                    await send({"type": "http.response.start", "status": 503,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(lost)).encode())]})  # fmt: skip
                    await send({"type": "http.response.body", "body": lost, "more_body": False})
                return
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
                self.log.set_status(entry["seq"], message["status"])
                if path.startswith("/admin/api/"):
                    extra = [(b"x-shopify-shop-api-call-limit", self.call_limit().encode())]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, replay, capture)
