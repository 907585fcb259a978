"""BaseClient: one httpx.AsyncClient per connector instance, with retries, rate limit and error map.

Why one place: every platform needs the same plumbing — tenacity retries on ``TransientError``
with exponential backoff and jitter, ``Retry-After`` honoured, a per-shop token bucket, and
foreign exceptions translated at the boundary so no httpx error ever escapes a connector.

A platform client subclasses it and overrides ``check`` to read its own error envelope::

    class TopClient(BaseClient):
        def check(self, response: httpx.Response) -> None:
            super().check(response)                      # HTTP status via the table
            body = response.json()
            if "error_response" in body:
                raise self.errors.error_for(body["error_response"]["code"], instance=self.config.name)

    client = TopClient(config, errors=TOP_ERRORS, rate=10, burst=10, retry=RetryPolicy(attempts=4))
    response = await client.request("POST", "/router/rest", data=params)
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from ._config import InstanceConfig
from ._errors import ConnectorError, RateLimited, TransientError, ValidationError
from ._http import async_client
from ._ratelimit import TokenBucket
from ._resolution import ErrorTable

__all__ = ["BaseClient", "RetryPolicy", "translate_errors"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry transient errors.

    ``RetryPolicy(attempts=5, initial=0.5, maximum=30)`` in production;
    ``RetryPolicy(attempts=4, initial=0.01, maximum=0.05, max_retry_after=0.2)`` in tests.
    """

    attempts: int = 5
    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetryPolicy:
        """Read ``retry_attempts``, ``retry_initial``, ``retry_maximum``, ``retry_max_retry_after``."""
        base = cls()
        return cls(
            attempts=int(settings.get("retry_attempts", base.attempts)),
            initial=float(settings.get("retry_initial", base.initial)),
            maximum=float(settings.get("retry_maximum", base.maximum)),
            jitter=float(settings.get("retry_jitter", base.jitter)),
            max_retry_after=float(settings.get("retry_max_retry_after", base.max_retry_after)),
        )

    def wait(self, state: RetryCallState) -> float:
        """Retry-After when the platform gave one, else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self.max_retry_after)
        backoff = min(self.maximum, self.initial * 2 ** (state.attempt_number - 1))
        return backoff + random.uniform(0, self.jitter * backoff)


@contextlib.contextmanager
def translate_errors(instance: str) -> Iterator[None]:
    """Turn httpx exceptions into ``ConnectorError`` subclasses, most specific first."""
    try:
        yield
    except ConnectorError:
        raise
    except httpx.TimeoutException as exc:
        cause = exc.__cause__  # the aiohttp transport reports a refused connection as a connect timeout
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
            raise TransientError("connection failed", instance=instance, detail=str(cause) or type(cause).__name__) from exc
        raise TransientError("timed out", instance=instance, detail=type(exc).__name__) from exc
    except httpx.TransportError as exc:
        raise TransientError("connection failed", instance=instance, detail=str(exc) or type(exc).__name__) from exc
    except httpx.HTTPError as exc:
        raise ValidationError("invalid request", instance=instance, detail=str(exc)) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:  # what the transport does not map to httpx's
        raise TransientError("connection failed", instance=instance, detail=str(exc) or type(exc).__name__) from exc
    except ValueError as exc:  # json.JSONDecodeError and friends from a malformed answer
        raise TransientError("malformed answer", instance=instance, detail=str(exc)[:200]) from exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class BaseClient:
    """Retrying, rate-limited HTTP for one connector instance. Close with ``await client.aclose()``.

    Parameters: ``config`` (base_url, settings, instance name), ``errors`` (the platform's
    ``ErrorTable``), ``rate``/``burst`` (documented defaults; settings ``rate_limit_per_second`` and
    ``rate_limit_burst`` override), ``retry`` (defaults to ``RetryPolicy.from_settings``),
    ``headers`` sent on every request, ``auth`` an ``httpx.Auth`` that signs requests,
    ``timeout`` seconds.
    """

    def __init__(
        self,
        config: InstanceConfig,
        *,
        errors: ErrorTable | None = None,
        rate: float = 10.0,
        burst: float = 10.0,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.config = config
        self.errors = errors or ErrorTable.default()
        self.retry = retry or RetryPolicy.from_settings(config.settings)
        self.bucket = TokenBucket.for_shop(config.name, config.settings, rate=rate, burst=burst)
        self.http = async_client(
            base_url=config.base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=float(config.settings.get("timeout", timeout)),
        )

    async def request(self, method: str, url: str, *, cost: float = 1.0, **kwargs: Any) -> httpx.Response:
        """Send with rate limit and retries; ``kwargs`` go to ``httpx.AsyncClient.request``."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self.retry.wait,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        ):
            with attempt:
                return await self.send_once(method, url, cost=cost, **kwargs)
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_once(self, method: str, url: str, *, cost: float = 1.0, **kwargs: Any) -> httpx.Response:
        """One rate-limited attempt, checked; raises ``ConnectorError`` subclasses only."""
        await self.bucket.acquire(cost)
        with translate_errors(self.config.name):
            response = await self.http.request(method, url, **kwargs)
            try:
                self.check(response)
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                self.bucket.pause(min(wait, self.retry.max_retry_after))
                raise
            return response

    def check(self, response: httpx.Response) -> None:
        """Raise the table's error for a non-2xx status. Platforms extend this for body codes."""
        if response.is_success:
            return
        raise self.errors.error_for(
            response.status_code,
            instance=self.config.name,
            detail=f"{response.request.method} {response.request.url.path}: {response.text[:200]}",
            retry_after=retry_after_seconds(response),
        )

    async def aclose(self) -> None:
        await self.http.aclose()
