"""Inbound TOP messages: TMC messages checked and turned into ``PushedEvent``s.

TOP never pushes signed HTTP requests to us: TMC messages are pulled with a signed API call
(``taobao.tmc.messages.consume``), so the authentication is the gateway's (app key, secret,
timestamp window) and a message carries no signature of its own. What is left to check is the
shape: a message without an id or topic, or whose ``content`` is not a JSON object, is refused
(``VerificationError`` 422) rather than handed to the mappings.

``tmc_event({"id": 7000000000001, "topic": "taobao_trade_TradeCreate", "content": "{\\"tid\\":1}",
"pub_time": "2024-05-01 10:00:01", "user_nick": "shop"})``
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import PushedEvent, VerificationError

from .signing import parse_timestamp

__all__ = ["tmc_event"]


def tmc_event(message: Mapping[str, Any], *, instance: str | None = None) -> PushedEvent:
    """A TMC message as a ``PushedEvent``.

    ``event_id`` is TMC's message id, the same on every redelivery (the hub's dedupe key);
    ``payload`` is the message with ``content`` parsed from its JSON string.
    """
    message_id = message.get("id")
    topic = message.get("topic")
    if not isinstance(message_id, int | str) or not str(message_id).isdigit():
        raise VerificationError(422, f"TMC message without a numeric id: {str(message)[:120]}", instance=instance)
    if not isinstance(topic, str) or not topic:
        raise VerificationError(422, f"TMC message {message_id} has no topic", instance=instance)
    try:
        content = json.loads(message.get("content") or "")
    except (TypeError, ValueError):
        raise VerificationError(422, f"TMC message {message_id}: content is not JSON", instance=instance) from None
    if not isinstance(content, dict):
        raise VerificationError(422, f"TMC message {message_id}: content is not a JSON object", instance=instance)
    occurred: datetime | None
    try:
        occurred = parse_timestamp(str(message.get("pub_time", "")))
    except ValueError:
        occurred = None
    return PushedEvent(event_id=str(message_id), topic=topic, payload={**message, "content": content},
                       occurred_at=occurred, source=str(message.get("user_nick") or "tmc"))
