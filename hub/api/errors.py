"""Domain errors → HTTP, in one place, as ``application/problem+json``. Controllers never catch."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hub.domain.errors import HubError

log = logging.getLogger("zhongshu.api")
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    body = {**extra, "type": "about:blank", "status": status, "title": title, "detail": detail}
    return Response(body, status_code=status, media_type=PROBLEM)


def hub_error(_: Request[Any, Any, Any], exc: HubError) -> Response[dict[str, Any]]:
    return problem(exc.status_code, exc.title, exc.detail, **exc.extra)


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    detail = str(exc.detail)
    errors = exc.extra if isinstance(exc.extra, list) else []
    if "decode" in detail.lower() or "malformed" in detail.lower() or "JSON" in detail:
        return problem(400, "malformed body", f"request body is not valid JSON: {detail}", errors=errors)
    messages = "; ".join(f"{e.get('key', '')}: {e.get('message', '')}".strip(": ") for e in errors if isinstance(e, dict))
    return problem(HTTP_422_UNPROCESSABLE_ENTITY, "invalid request", messages or detail, errors=errors)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    response = problem(exc.status_code, _TITLES.get(exc.status_code, "error"), str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


_TITLES = {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found", 405: "method not allowed",
           413: "payload too large", 429: "too many requests"}


def data_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """Values the database refuses (a NUL character, a number past 64 bits) are the caller's problem."""
    if _is_data_error(exc):
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:300]
        return problem(422, "invalid value", f"a value cannot be stored: {reason}")
    if _is_unavailable(exc):
        return unavailable(request, exc)
    return unexpected_error(request, exc)


RETRY_AFTER_SECONDS = 2
_UNAVAILABLE = {"ConnectionDoesNotExistError", "CannotConnectNowError", "AdminShutdownError", "CrashShutdownError",
                "ConnectionFailureError", "TooManyConnectionsError", "ConnectionRefusedError", "ConnectionResetError"}


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, PoolTimeout, RedisConnectionError, RedisTimeoutError)):
        return True
    if isinstance(exc, DBAPIError):
        orig = getattr(exc, "orig", None)
        names = {cls.__name__ for cls in type(orig).__mro__} | {cls.__name__ for cls in type(orig.__cause__).__mro__} \
            if orig is not None else set()  # fmt: skip
        return exc.connection_invalidated or bool(names & _UNAVAILABLE)
    return False


def unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """The database (or Redis) is down or restarting. Not a bug of ours or the caller's: the caller retries (a
    webhook sender does on any non-2xx answer; ``Retry-After`` tells an API client when), and retries are
    idempotent (movement keys, platform event ids), so a request that did commit counts once."""
    log.warning("%s %s: storage unavailable (%s: %s)", request.method, request.url.path, type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "")  # fmt: skip
    response = problem(503, "service unavailable", f"storage is unreachable or restarting; retry in "
                       f"{RETRY_AFTER_SECONDS} s (a retry with the same key or event id counts once)")  # fmt: skip
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _is_data_error(exc: DBAPIError) -> bool:
    orig = getattr(exc, "orig", None)
    names = {cls.__name__ for cls in type(orig).__mro__} | {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"DataError", "UntranslatableCharacterError", "CharacterNotInRepertoireError"})


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if _is_unavailable(exc):
        return unavailable(request, exc)
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error on %s %s (incident %s)", request.method, request.url.path, incident, exc_info=exc)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "internal error", f"unexpected error; incident {incident}")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HubError: hub_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    DBAPIError: data_error,
    Exception: unexpected_error,
}
