"""Small asyncio helpers the long-running loops share."""

from __future__ import annotations

import asyncio


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
