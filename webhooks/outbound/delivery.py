"""One delivery attempt of one event to one subscriber.

Pure of storage: the hub writes the ``AttemptResult`` to its attempts table and asks
``schedule.decide`` when (or whether) to try again. Each attempt is re-signed with the current time
(a retry hours later must still fall inside the receiver's ±5 min window) under the SAME
``webhook-id``, which is the receiver's dedupe key.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from webhooks.outbound.schedule import Outcome, classify, parse_retry_after
from webhooks.outbound.signing import sign
from webhooks.outbound.ssrf import SSRFRefused, parse_url

__all__ = ["DEFAULT_EXCERPT_BYTES", "USER_AGENT", "AttemptResult", "deliver"]

USER_AGENT = "Zhongshu-Webhooks/1"
DEFAULT_EXCERPT_BYTES = 1024


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status: int | None  # None: no HTTP response (timeout, network error, refused by the SSRF guard)
    duration_ms: float
    response_excerpt: str  # first bytes of the body, decoded leniently; never the whole response
    error: str | None
    retry_after: float | None  # seconds, from a Retry-After header
    refused: bool = False  # the SSRF guard refused the target; no connection was made

    @property
    def outcome(self) -> Outcome:
        return classify(self.status)


async def _excerpt(response: httpx.Response, limit: int) -> str:
    buffer = bytearray()
    async for chunk in response.aiter_raw():  # raw: no decompression, so a gzip bomb stays small
        buffer += chunk[: limit - len(buffer)]
        if len(buffer) >= limit:
            break
    return buffer.decode("utf-8", errors="replace")


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    *,
    msg_id: str,
    body: bytes,
    secrets: Sequence[str | bytes],
    timestamp: int | datetime | None = None,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    excerpt_bytes: int = DEFAULT_EXCERPT_BYTES,
) -> AttemptResult:
    """POST ``body`` to ``url`` once, signed with every active secret; never raises for network trouble.

    ``client`` should come from ``ssrf.guarded_client`` (redirects off, SSRF guard, size cap).
    """
    stamp = timestamp if timestamp is not None else datetime.now(UTC)
    request_headers = {
        "content-type": content_type,
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",
        **(headers or {}),
        **sign(msg_id, stamp, body, secrets),
    }
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    try:
        parse_url(url)  # a malformed or non-http(s) URL is a refusal, not a network error worth retrying
        async with client.stream("POST", url, content=body, headers=request_headers, follow_redirects=False) as resp:
            excerpt = await _excerpt(resp, excerpt_bytes)
            return AttemptResult(
                status=resp.status_code,
                duration_ms=elapsed(),
                response_excerpt=excerpt,
                error=None if resp.is_success else f"HTTP {resp.status_code}",
                retry_after=parse_retry_after(resp.headers.get("retry-after")),
            )
    except SSRFRefused as exc:
        return AttemptResult(None, elapsed(), "", f"refused by SSRF guard: {exc}", None, refused=True)
    except httpx.TimeoutException as exc:
        return AttemptResult(None, elapsed(), "", f"timeout ({type(exc).__name__})", None)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return AttemptResult(None, elapsed(), "", f"{type(exc).__name__}: {exc}", None)
