"""Operator routes shared by the ERP sandboxes (Kingdee, Yonyou): vouchers, knobs, periods, accounts.

Both ERPs hold a chart of accounts, closed periods and posted vouchers, and reconciliation and
exactly-once tests need the same handles on them::

    GET    /_sandbox/vouchers          every voucher, as the sandbox shows it
    DELETE /_sandbox/vouchers/{id}     remove a voucher behind the hub's back (reconciliation tests)
    POST   /_sandbox/knobs             {"timeout_after_save": 1, "timeout_seconds": 2.0}
    POST   /_sandbox/periods           {"book": "001", "period": "2024-01", "closed": true}
    POST   /_sandbox/accounts          {"number": "1406", "name": "发出商品"}  (add to the chart)

The wire format of each ERP stays in its own sandbox; this module only knows the state below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler

from .operator_routes import bad_request, json_object

__all__ = ["ErpState", "erp_operator_routes", "stall_after_save"]


class ErpState(Protocol):
    """What the ERP operator routes read and change on a sandbox's state."""

    closed: set[tuple[str, str]]
    vouchers: dict[Any, Any]
    timeout_after_save: int
    timeout_seconds: float


async def stall_after_save(state: ErpState) -> None:
    """Play the ``timeout_after_save`` knob: the voucher is saved, the answer comes too late."""
    if state.timeout_after_save > 0:
        state.timeout_after_save -= 1
        await asyncio.sleep(state.timeout_seconds)


def erp_operator_routes(
    state: ErpState,
    *,
    chart: Callable[[], dict[str, str]],
    listed: Callable[[], list[dict[str, Any]]],
    numeric_ids: bool,
) -> list[HTTPRouteHandler]:
    """The routes above. ``chart`` returns the account chart to extend, ``listed`` the vouchers to
    show; ``numeric_ids`` says whether voucher ids are ints (Kingdee) or strings (Yonyou)."""

    @get("/_sandbox/vouchers")
    async def list_vouchers() -> list[dict[str, Any]]:
        return listed()

    def drop(voucher_id: Any) -> Response[Any]:
        if state.vouchers.pop(voucher_id, None) is None:
            return bad_request(f"no voucher with id {voucher_id}", 404)
        return Response({"deleted": voucher_id})

    @delete("/_sandbox/vouchers/{voucher_id:int}", status_code=200)
    async def drop_numbered(voucher_id: int) -> Response[Any]:
        return drop(voucher_id)

    @delete("/_sandbox/vouchers/{voucher_id:str}", status_code=200)
    async def drop_named(voucher_id: str) -> Response[Any]:
        return drop(voucher_id)

    @post("/_sandbox/knobs", status_code=200)
    async def knobs(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await json_object(request)
            state.timeout_after_save = int(body.get("timeout_after_save", state.timeout_after_save))
            state.timeout_seconds = float(body.get("timeout_seconds", state.timeout_seconds))
        except (ValueError, TypeError) as exc:
            return bad_request(f"bad knobs: {exc}")
        return Response({"timeout_after_save": state.timeout_after_save, "timeout_seconds": state.timeout_seconds})

    @post("/_sandbox/periods", status_code=200)
    async def periods(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await json_object(request)
            key = (str(body["book"]), str(body["period"]))
        except (ValueError, KeyError) as exc:
            return bad_request(f"need book and period (YYYY-MM): {exc}")
        (state.closed.add if body.get("closed", True) else state.closed.discard)(key)
        return Response({"closed": sorted(map(list, state.closed))})

    @post("/_sandbox/accounts", status_code=200)
    async def add_account(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = await json_object(request)
            chart()[str(body["number"])] = str(body.get("name", body["number"]))
        except (ValueError, KeyError) as exc:
            return bad_request(f"need number: {exc}")
        return Response({"accounts": sorted(chart())})

    return [list_vouchers, drop_numbered if numeric_ids else drop_named, knobs, periods, add_account]
