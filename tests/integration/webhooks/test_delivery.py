"""Delivery attempts against a real receiver on 127.0.0.1, driven by the retry schedule."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from webhooks.outbound.delivery import AttemptResult, deliver
from webhooks.outbound.schedule import Outcome, RetrySchedule, decide
from webhooks.outbound.signing import generate_secret
from webhooks.outbound.ssrf import SSRFGuard, SSRFPolicy, guarded_client

from .conftest import Receiver, RecordingBackend, Reply, json_body

FAST = RetrySchedule(delays=(0.01,) * 7, jitter=0.0)
BODY = json_body({"type": "stock.changed", "data": {"sku": "A", "available": 164}})


def local_client(**kwargs: object) -> httpx.AsyncClient:
    return guarded_client(SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1"])), **kwargs)  # type: ignore[arg-type]


async def run_until_done(client: httpx.AsyncClient, url: str, secret: str, msg_id: str) -> list[AttemptResult]:
    """What the hub's worker does, minus storage: attempt, ask the schedule, wait, repeat."""
    results: list[AttemptResult] = []
    attempt = 1
    while True:
        result = await deliver(client, url, msg_id=msg_id, body=BODY, secrets=[secret])
        results.append(result)
        now = datetime.now(UTC)
        decision = decide(attempt, result.status, result.retry_after, now, FAST)
        if decision.next_at is None:
            return results
        await asyncio.sleep((decision.next_at - now).total_seconds())
        attempt += 1


async def test_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt_once(receiver: Receiver) -> None:
    secret = generate_secret()
    receiver.secret = secret
    receiver.replies += [
        Reply(status=500),
        Reply(status=302, headers=[("location", f"{receiver.url}/elsewhere")]),
        Reply(status=503, body=b"maintenance"),
        Reply(status=204, body=b""),
    ]
    async with local_client() as client:
        results = await run_until_done(client, f"{receiver.url}/hook", secret, "msg_4th")
    assert [r.status for r in results] == [500, 302, 503, 204]
    assert [r.outcome for r in results] == [Outcome.FAILURE] * 3 + [Outcome.SUCCESS]
    assert [s.path for s in receiver.seen] == ["/hook"] * 4  # the redirect was not followed
    assert {s.headers["webhook-id"] for s in receiver.seen} == {"msg_4th"}
    assert all(s.verified for s in receiver.seen)  # standardwebhooks accepted every attempt
    assert sum(1 for s, r in zip(receiver.seen, results, strict=True) if r.outcome is Outcome.SUCCESS) == 1
    assert results[2].response_excerpt == "maintenance"


async def test_gone_disables_the_endpoint_and_stops(receiver: Receiver) -> None:
    secret = generate_secret()
    receiver.replies.append(Reply(status=410))
    async with local_client() as client:
        result = await deliver(client, receiver.url, msg_id="msg_gone", body=BODY, secrets=[secret])
    decision = decide(1, result.status, result.retry_after, datetime.now(UTC), FAST)
    assert (result.status, decision.next_at, decision.disable_endpoint, decision.dead_letter) == (410, None, True, True)


async def test_throttled_response_honours_retry_after(receiver: Receiver) -> None:
    receiver.replies.append(Reply(status=429, headers=[("retry-after", "7")]))
    async with local_client() as client:
        result = await deliver(client, receiver.url, msg_id="msg_429", body=BODY, secrets=[generate_secret()])
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert (result.status, result.retry_after, result.outcome) == (429, 7.0, Outcome.THROTTLED)
    assert decide(1, result.status, result.retry_after, now, FAST).next_at == now + timedelta(seconds=7)


async def test_timeout_is_reported_as_an_error_without_status(receiver: Receiver) -> None:
    receiver.replies.append(Reply(hold=True))
    async with local_client(timeout=httpx.Timeout(0.2)) as client:
        result = await deliver(client, receiver.url, msg_id="msg_slow", body=BODY, secrets=[generate_secret()])
    assert result.status is None and result.error is not None and "timeout" in result.error
    assert decide(1, None, None, datetime.now(UTC), FAST, random.Random(1)).next_at is not None


async def test_response_excerpt_is_truncated(receiver: Receiver) -> None:
    receiver.replies.append(Reply(status=500, body=b"e" * 50_000))
    async with local_client() as client:
        result = await deliver(
            client, receiver.url, msg_id="msg_big", body=BODY, secrets=[generate_secret()], excerpt_bytes=100
        )
    assert result.response_excerpt == "e" * 100


async def test_refused_target_is_a_result_not_an_exception(recording: RecordingBackend) -> None:
    async with guarded_client(SSRFGuard(), network_backend=recording) as client:
        result = await deliver(
            client, "http://169.254.169.254/latest", msg_id="msg_meta", body=BODY, secrets=[generate_secret()]
        )
    assert result.refused and result.status is None and "metadata" in (result.error or "")
    assert recording.attempts == []


@pytest.mark.parametrize("url", ["http://[::1", "ftp://127.0.0.1/x", "http://0177.0.0.1/"])
async def test_unusable_urls_come_back_as_errors(url: str, recording: RecordingBackend) -> None:
    async with guarded_client(SSRFGuard(), network_backend=recording) as client:
        result = await deliver(client, url, msg_id="msg_bad", body=BODY, secrets=[generate_secret()])
    assert result.status is None and result.refused and result.error
    assert recording.attempts == []
