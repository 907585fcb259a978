"""The connector SDK surface: exports, error classification, cursor, token bucket, retries at the boundary."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest

import connectors.base as base
from connectors.base import (
    AuthError,
    BaseClient,
    ConflictError,
    ErrorTable,
    InstanceConfig,
    NotFound,
    PollCursor,
    RateLimited,
    TokenExpired,
    TransientError,
    ValidationError,
)


def test_all_is_sorted_and_complete() -> None:
    assert base.__all__ == sorted(base.__all__)
    modules = ["_capability", "_client", "_config", "_connector", "_cursor", "_errors", "_hmac", "_http", "_model",
               "_ratelimit", "_resolution"]
    exported = {name for m in modules for name in importlib.import_module(f"connectors.base.{m}").__all__}
    assert exported == set(base.__all__)


@pytest.mark.parametrize(
    "key, expected",
    [(401, AuthError), (404, NotFound), (422, ValidationError), (429, RateLimited), (503, TransientError),
     (599, TransientError)],
)
def test_default_table_classifies_by_what_the_caller_must_do(key: int, expected: type[Exception]) -> None:
    assert type(ErrorTable.default().error_for(key)) is expected


def test_platform_codes_extend_the_table() -> None:
    from connectors.shopify.client import SHOPIFY_ERRORS

    error = SHOPIFY_ERRORS.error_for("COMPARE_QUANTITY_STALE", instance="s", detail="expected 5")
    assert isinstance(error, ConflictError) and error.code == "COMPARE_QUANTITY_STALE" and "expected 5" in str(error)
    assert isinstance(SHOPIFY_ERRORS.error_for("THROTTLED", retry_after=1.5), RateLimited)


def test_missing_credential_is_an_auth_error_naming_it() -> None:
    config = InstanceConfig(name="x", platform="p", base_url="http://127.0.0.1:1", credentials={"a": "secret"})
    assert "secret" not in repr(config)
    with pytest.raises(AuthError, match="'access_token'"):
        config.credential("access_token")
    assert issubclass(TokenExpired, AuthError)


def test_cursor_dedupes_the_overlap_but_not_an_edit() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    overlap = timedelta(seconds=5)
    cursor = PollCursor().open(now=t0 + timedelta(seconds=10))
    keep, cursor = cursor.advance([("a@8", t0 + timedelta(seconds=8)), ("b@1", t0 + timedelta(seconds=1))],
                                  next_token=None, overlap=overlap)
    assert keep == ["a@8", "b@1"] and not cursor.in_window
    cursor = PollCursor.loads(cursor.dumps()).open(now=t0 + timedelta(seconds=20))
    assert cursor.bounds(overlap) == (t0 + timedelta(seconds=5), t0 + timedelta(seconds=20))
    keep, _ = cursor.advance([("a@8", t0 + timedelta(seconds=8)), ("a@12", t0 + timedelta(seconds=12))],
                             next_token=None, overlap=overlap)
    assert keep == ["a@12"]


def test_cursor_keeps_its_window_while_paging() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cursor = PollCursor().open(now=t0)
    _, cursor = cursor.advance([], next_token="p2", overlap=timedelta(seconds=1))
    reopened = PollCursor.loads(cursor.dumps()).open(now=t0 + timedelta(hours=1))
    assert reopened.until == t0 and reopened.page_token == "p2"
    with pytest.raises(ValueError, match="not a poll cursor"):
        PollCursor.loads("{broken")


async def test_transport_failures_become_transient_errors_after_retries() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    config = InstanceConfig(name="dead", platform="p", base_url=f"http://127.0.0.1:{port}",
                            settings={"retry_attempts": 2, "retry_initial": 0.001, "retry_maximum": 0.002})
    client = BaseClient(config)
    try:
        with pytest.raises(TransientError, match="connection failed") as info:
            await client.request("GET", "/x")
        assert info.value.__cause__ is not None and "httpx" in type(info.value.__cause__).__module__
    finally:
        await client.aclose()
