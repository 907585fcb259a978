"""Planted bugs for the fault campaign's own test, loaded only in the chaos stack's hub processes.

The campaign runner puts this folder first on ``PYTHONPATH`` and sets ``CHAOS_PLANT`` for the processes
it starts; nothing else imports it, and production code paths never read the variable.

``double_apply``: "applies a movement twice on retry" — a retried request whose movement key was already
applied gets applied again under a fresh key instead of answering ``duplicate``.
"""

from __future__ import annotations

import os

if os.environ.get("CHAOS_PLANT") == "double_apply":
    import uuid
    from dataclasses import replace

    from hub.services import ledger as _ledger

    _original = _ledger.apply_movements

    async def _apply_twice_on_retry(session, movements, *, guarded_buckets):  # type: ignore[no-untyped-def]
        results = await _original(session, movements, guarded_buckets=guarded_buckets)
        again = [replace(r.movement, key=f"{r.key}#retry-{uuid.uuid4().hex[:8]}")
                 for r in results if r.status == "duplicate" and r.movement.kind == "receive"]
        if again:
            await _original(session, again, guarded_buckets=guarded_buckets)
        return results

    _ledger.apply_movements = _apply_twice_on_retry
