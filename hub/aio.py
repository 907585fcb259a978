"""Small asyncio helpers the long-running loops share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set (True) or ``timeout`` seconds pass (False).

    Not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that arrives just as the event
    is set, and a loop built on it then never stops — a worker or test hub hanging on shutdown."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def work_when_woken(wake: asyncio.Event, poll: float, work: Callable[[], Awaitable[None]], *,
                          log: logging.Logger, what: str, min_interval: float = 0.0) -> None:
    """Run ``work`` each time ``wake`` is set, and every ``poll`` seconds anyway, until cancelled. A failure
    (a database restart) is logged and the loop goes on after ``poll``: a runner must outlive a blip.

    ``min_interval``: a wake within that many seconds of the last run waits out the rest of it, so a burst
    of wakes costs one run (the first wake after a quiet spell runs at once)."""
    loop = asyncio.get_running_loop()
    last = -min_interval
    while True:
        await wait_event(wake, poll)
        if (rest := last + min_interval - loop.time()) > 0:
            await asyncio.sleep(rest)
        last = loop.time()
        wake.clear()
        try:
            await work()
        except Exception:  # noqa: BLE001 - logged; the next round retries
            log.exception("%s failed; retrying", what)
            await asyncio.sleep(poll)
