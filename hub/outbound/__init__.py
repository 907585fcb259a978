"""Outbound webhooks of the hub: subscriptions, the transactional outbox, signed delivery with retries,
dead letters and replay. The signing, schedule and SSRF rules themselves live in :mod:`webhooks.outbound`.

Emitters call::

    await emit(session_or_uow, "stock.changed", {"sku": …, "available": …}, sku=sku, shop=shop,
               parents=["movement:40"])

inside the transaction of the change; importing this package registers the ``outbound.deliver`` job.
"""

from __future__ import annotations

from hub.outbound import delivery as _delivery  # noqa: F401  (registers the outbound.deliver job)
from hub.outbound.outbox import DELIVER_JOB, body_of, emit, webhook_id
from hub.outbound.subscriptions import EVENT_TYPES

__all__ = ["DELIVER_JOB", "EVENT_TYPES", "body_of", "emit", "webhook_id"]
