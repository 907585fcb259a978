"""``wait_event``: the wait every long-running loop (job runner, batch pump, demo) sleeps in."""

from __future__ import annotations

import asyncio

import pytest

from hub.aio import wait_event


async def test_it_answers_whether_the_event_was_set_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 10) is True


async def test_a_cancellation_arriving_as_the_event_is_set_still_stops_the_waiter() -> None:
    """The case ``asyncio.wait_for`` gets wrong on Python 3.11 (it returns True and the loop runs on, so
    closing a job runner hung for ever)."""
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 10))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    event.set()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
