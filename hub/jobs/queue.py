"""The job-queue port. Jobs are rows (see :mod:`hub.jobs.outbox`); a queue only *delivers* their ids.

Two adapters with the same semantics: :class:`~hub.jobs.local_queue.LocalJobQueue` (embedded mode, an
asyncio runner in the API process) and :class:`~hub.jobs.arq_queue.ArqJobQueue` (production, arq on Redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class JobQueue(Protocol):
    async def kick(self, job_ids: Sequence[int], *, delay: float | None = None) -> None:
        """Deliver committed job rows to a runner. Safe to call twice for the same id."""

    async def wake(self, names: Sequence[str]) -> None:
        """Rows of these batch jobs were committed: wake the pumps that claim them (see hub.jobs.pump)."""

    async def first_in(self, name: str, seconds: float) -> bool:
        """True for the first caller of every process sharing this queue within ``seconds`` under ``name``
        (a periodic job ticked by one process, not by each)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...
