"""The ``/_sandbox/log`` and ``/_sandbox/faults`` handlers every sandbox serves, written once.

Each sandbox keeps its own ``RequestLog`` and ``Faults`` (see ``operator.py``) and adds these two
routes to its app; platform-specific operator routes (events, stock, settings) stay in the sandbox::

    log, faults, pushes = RequestLog(), Faults(), []
    app = Litestar(route_handlers=[gateway, events, stock, *operator_routes(log, faults, pushes=pushes)])

    GET  /_sandbox/log?since=0   {"requests": [...]} (+ "pushes": [...] when the sandbox pushes)
    POST /_sandbox/faults        the fault knobs (``Faults.configure``) -> their new state
    GET  /_sandbox/stock         {"stock": ...} when the sandbox passes ``stock=`` (a callable)

A refused faults body answers 400 ``{"error": "..."}``, or Litestar's ``{"status_code", "detail"}``
with ``problem=True`` (the sandboxes that report every operator error through ``HTTPException``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler

from .operator import Faults, RequestLog

__all__ = ["bad_request", "json_events", "json_object", "operator_routes", "problem_json_object"]


async def json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is ``{}``); ``ValueError`` naming the problem."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ValueError("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


async def json_events(request: Request[Any, Any, Any]) -> tuple[list[dict[str, Any]], bool]:
    """A batch-capable ``/_sandbox/events`` body: one event object or a list of them.

    Returns the events and whether a list was sent (answer with a list then); ``ValueError``
    naming the problem.
    """
    data = json.loads(await request.body() or b"{}")
    batch = data if isinstance(data, list) else [data]
    if not all(isinstance(e, dict) for e in batch):
        raise ValueError("each event must be a JSON object")
    return batch, isinstance(data, list)


async def problem_json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """``json_object``, refusing a bad body with ``HTTPException(400)`` instead of ``ValueError``."""
    try:
        return await json_object(request)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def bad_request(message: str, status: int = 400, *, media_type: str | None = None) -> Response[Any]:
    """The operator API's refusal: ``{"error": message}`` with ``status``."""
    if media_type:
        return Response({"error": message}, status_code=status, media_type=media_type)
    return Response({"error": message}, status_code=status)


def operator_routes(
    log: RequestLog,
    faults: Faults,
    *,
    pushes: list[Any] | None = None,
    stock: Callable[[], Any] | None = None,
    problem: bool = False,
    media_type: str | None = None,
) -> list[HTTPRouteHandler]:
    """``GET /_sandbox/log`` and ``POST /_sandbox/faults`` over this sandbox's ``log`` and ``faults``.

    ``pushes`` (the list the sandbox appends its pushes to) is served next to the requests;
    ``stock`` (what ``GET /_sandbox/stock`` shows under ``"stock"``) adds that route;
    ``problem`` reports a bad faults body as ``HTTPException`` (Litestar's error body);
    ``media_type`` overrides the JSON content type (platforms that answer ``charset=utf-8``).
    """

    def answer(body: dict[str, Any]) -> Response[Any]:
        return Response(body, media_type=media_type) if media_type else Response(body)

    @get("/_sandbox/log")
    async def sandbox_log(since: int = 0) -> Response[Any]:
        body: dict[str, Any] = {"requests": log.entries(since)}
        if pushes is not None:
            body["pushes"] = pushes
        return answer(body)

    @post("/_sandbox/faults", status_code=200)
    async def sandbox_faults(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            faults.configure(await json_object(request))
        except (ValueError, TypeError, AttributeError) as exc:
            if problem:
                raise HTTPException(status_code=400, detail=str(exc)) from None
            return bad_request(str(exc), media_type=media_type)
        return answer(faults.state())

    @get("/_sandbox/stock")
    async def sandbox_stock() -> Response[Any]:
        return answer({"stock": stock() if stock else {}})

    return [sandbox_log, sandbox_faults] + ([sandbox_stock] if stock else [])
