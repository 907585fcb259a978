"""Planted bugs for the fault campaign's own test, loaded only in the chaos stack's hub processes.

The campaign runner puts this folder first on ``PYTHONPATH`` and sets ``CHAOS_PLANT`` for the processes
it starts; nothing else imports it, and production code paths never read the variable.

``double_apply``: "applies a request twice on retry" — a client's retried purchase (same entry-order code,
already stored) is stored again under a derived code instead of answering with the existing order, so the
WMS receives the goods twice.
"""

from __future__ import annotations

import os

if os.environ.get("CHAOS_PLANT") == "double_apply":
    from hub.warehouse import inbound as _inbound

    _original = _inbound.create

    async def _create_twice_on_retry(session, *, code, **kw):  # type: ignore[no-untyped-def]
        order, created = await _original(session, code=code, **kw)
        if not created and kw.get("kind") == "purchase":
            return await _original(session, code=f"{code}-retry", **kw)
        return order, created

    _inbound.create = _create_twice_on_retry
