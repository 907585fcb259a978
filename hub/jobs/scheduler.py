"""Periodic work (expiring reservations, reconciliation…) enqueued as ordinary coalescing jobs.

Any number of processes may run a scheduler: with Redis, the first process to tick a job in its interval
enqueues it (the others skip it, instead of each running it once an interval); the pending-key uniqueness
makes any remaining overlap coalesce.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from hub.jobs import outbox
from hub.jobs.registry import JobContext

log = logging.getLogger("zhongshu.jobs")


@dataclass(frozen=True)
class Periodic:
    name: str
    every: float | str
    """Seconds, or the name of the setting that holds them."""


PERIODIC: list[Periodic] = []


def every(name: str, seconds: float | str) -> None:
    """Declare that job ``name`` (no arguments) runs every ``seconds`` (a number or a setting's name)."""
    if all(p.name != name for p in PERIODIC):
        PERIODIC.append(Periodic(name, seconds))


class Scheduler:
    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="zhongshu-scheduler")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        # a process that starts (or restarts after a crash) waits one interval before each periodic job:
        # restarting workers must not all reconcile at once, mid-way through what the others are doing
        last: dict[str, float] = {p.name: loop.time() for p in PERIODIC}
        while True:
            now = loop.time()
            due = [p for p in PERIODIC if now - last.get(p.name, -1e9) >= self._interval(p)]
            for p in list(due):
                if not await self._first(p):  # another process enqueued it this interval
                    due.remove(p)
                    last[p.name] = now
            if due:
                try:
                    async with self.ctx.sessionmaker() as session, session.begin():
                        for p in due:  # delivered on commit
                            await outbox.enqueue(session, p.name, f"periodic:{p.name}")
                    for p in due:
                        last[p.name] = now
                except Exception:  # noqa: BLE001
                    log.exception("scheduler tick failed; retrying")
            await asyncio.sleep(0.2)

    async def _first(self, p: Periodic) -> bool:
        """Whether this process is the first of all to tick ``p`` in its interval (on doubt, yes: the
        pending key still coalesces)."""
        try:
            return bool(await self.ctx.queue.first_in(f"periodic:{p.name}", self._interval(p)))
        except Exception:  # noqa: BLE001
            return True

    def _interval(self, p: Periodic) -> float:
        return float(getattr(self.ctx.settings, p.every)) if isinstance(p.every, str) else p.every
