"""Domain errors, classified by what the caller must do.

::

    HubError
    ├── InvalidRequest          bad input: 422, nothing stored
    │   └── UnknownAccount
    ├── NotFound                404
    ├── Conflict                409: the request is well formed but the state refuses it
    │   ├── WouldOverdraw       a guarded bucket would go below zero
    │   ├── KeyReused           an idempotency key was reused with different content
    │   └── InvalidTransition   e.g. shipping a cancelled reservation
    └── Unauthorized / Forbidden (api layer)
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    status_code = 500
    title = "hub error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidRequest(HubError):
    status_code = 422
    title = "invalid request"


class UnknownAccount(InvalidRequest):
    title = "unknown account"


class NotFound(HubError):
    status_code = 404
    title = "not found"


class Conflict(HubError):
    status_code = 409
    title = "conflict"


class WouldOverdraw(Conflict):
    title = "insufficient stock"

    def __init__(self, sku: str, account: str, available: int, requested: int) -> None:
        shortfall = requested - available
        super().__init__(
            f"{account} for sku {sku!r} holds {available}, {requested} requested: short by {shortfall}",
            sku=sku,
            account=account,
            available=available,
            requested=requested,
            shortfall=shortfall,
        )


class KeyReused(Conflict):
    title = "idempotency key reused"


class InvalidTransition(Conflict):
    title = "invalid state transition"
