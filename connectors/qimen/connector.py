"""QimenConnector: the hub as the ERP side of the Qimen ERP↔WMS protocol.

Outbound (hub → WMS): delivery, entry and return orders, cancels, inventory snapshots.
Inbound (WMS → hub): ``*.confirm`` and ``stockchange.report`` calls verified by ``verify_push``
and answered with Qimen's success envelope by ``push_ack``.

Settings: ``customer_id`` (routing key, required), ``format`` (xml|json, default xml),
``sign_method`` (md5), ``gateway_path`` (/router/qimen/service), ``warehouse_code`` (default
warehouse for read_stock), ``owner_code``, ``timestamp_window_s`` (600), ``check_customer_id``
(true: refuse inbound calls for another customerId). Credentials: ``app_key``, ``app_secret``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from connectors.base import (
    Capability,
    Connector,
    InstanceConfig,
    PushAck,
    PushedEvent,
    RetryPolicy,
    VerificationError,
    lower_headers,
)

from . import documents
from .client import QimenClient
from .messages import STOCKOUT_TYPES
from .signing import DEFAULT_TIMESTAMP_WINDOW
from .verifier import ack, refusal, verify_call

__all__ = ["QUERY_PSEUDO_HEADER", "InventoryRow", "OrderAccepted", "QimenConnector"]

QUERY_PSEUDO_HEADER = ":query"  # raw query string, for push endpoints that only pass headers and body


@dataclass(frozen=True)
class OrderAccepted:
    """The WMS accepted an order: our code, its id (``deliveryOrderId``/``entryOrderId``...), the answer."""

    order_code: str
    wms_order_id: str
    answer: dict[str, Any]


@dataclass(frozen=True)
class InventoryRow:
    """One inventory.query row (per batch when the WMS keeps batches)."""

    warehouse_code: str
    item_code: str
    inventory_type: str
    quantity: int
    lock_quantity: int = 0
    batch_code: str = ""
    product_date: str = ""
    expire_date: str = ""

    @property
    def free(self) -> int:
        return self.quantity - self.lock_quantity


def _int(value: Any) -> int:
    try:
        return int(float(str(value or 0)))
    except ValueError:
        return 0


class QimenConnector(Connector):
    """One ERP↔WMS route (app_key + customerId) to a warehouse system speaking Qimen."""

    platform: ClassVar[str] = "qimen"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PUSH, Capability.READ_STOCK, Capability.WMS_ORDERS}
    )
    sandbox_app: ClassVar[str | None] = "connectors.qimen.sandbox:create_app"
    mapping_dir: ClassVar[str | None] = "qimen"
    streams: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: InstanceConfig, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config)
        self._retry = retry
        self._client: QimenClient | None = None

    @property
    def client(self) -> QimenClient:
        if self._client is None:
            self._client = QimenClient(self.config, retry=self._retry)
        return self._client

    @property
    def owner_code(self) -> str:
        return str(self.config.setting("owner_code", ""))

    # -- push ---------------------------------------------------------------------------------
    def verify_push(
        self, headers: Mapping[str, str], body: bytes, *, now: float, query: Mapping[str, str] | None = None
    ) -> PushedEvent:
        """Verify a WMS→ERP call. Qimen signs the query string: pass the request's ``query`` params,
        or the raw query string as the pseudo-header ``:query`` (what a generic push endpoint can do)."""
        if query is None:
            raw = lower_headers(headers).get(QUERY_PSEUDO_HEADER)
            if raw is None:
                raise VerificationError(401, "Qimen signs the query string, but no query parameters were given "
                                             "(verify_push(..., query=...) or the ':query' pseudo-header)",
                                        instance=self.name)
            query = dict(parse_qsl(raw, keep_blank_values=True))
        check_customer = bool(self.config.setting("check_customer_id", True))
        customer = self.config.setting("customer_id") if check_customer else None
        try:
            return verify_call(query, headers, body, app_key=self.config.credential("app_key"),
                               secret=self.config.credential("app_secret"), now=now,
                               customer_id=str(customer) if customer else None,
                               window=float(self.config.setting("timestamp_window_s",
                                                                DEFAULT_TIMESTAMP_WINDOW.total_seconds())))
        except VerificationError as exc:
            exc.instance = self.name
            raise

    def push_ack(self, event: PushedEvent) -> PushAck:
        return ack(event.headers.get("format", "xml"))

    def push_refusal(self, error: VerificationError) -> PushAck:
        return refusal(error, str(self.config.setting("format", "xml")))

    # -- stock --------------------------------------------------------------------------------
    async def inventory_snapshot(
        self, warehouse_code: str | None = None, item_codes: Sequence[str] = (), *, inventory_type: str = ""
    ) -> list[InventoryRow]:
        """inventory.query: every row the WMS holds for the warehouse (all items if none named)."""
        warehouse = warehouse_code if warehouse_code is not None else str(self.config.setting("warehouse_code", ""))
        criteria = documents.inventory_criteria(warehouse, item_codes, owner_code=self.owner_code,
                                                inventory_type=inventory_type)
        rows = await self.client.query_inventory(criteria)
        return [
            InventoryRow(
                warehouse_code=str(r.get("warehouseCode", "")), item_code=str(r.get("itemCode", "")),
                inventory_type=str(r.get("inventoryType") or "ZP"), quantity=_int(r.get("quantity")),
                lock_quantity=_int(r.get("lockQuantity")), batch_code=str(r.get("batchCode") or ""),
                product_date=str(r.get("productDate") or ""), expire_date=str(r.get("expireDate") or ""),
            )
            for r in rows
        ]

    async def read_stock(self, skus: Sequence[str]) -> dict[str, int]:
        """Free good stock (ZP quantity minus lockQuantity) per SKU in the default warehouse."""
        if not skus:
            return {}
        rows = await self.inventory_snapshot(None, list(skus), inventory_type="ZP")
        levels = {sku: 0 for sku in skus}
        for row in rows:
            if row.item_code in levels:
                levels[row.item_code] += row.free
        return levels

    # -- WMS orders ---------------------------------------------------------------------------
    async def create_delivery_order(self, code: str, *, warehouse_code: str, lines: Sequence[Mapping[str, Any]],
                                    **options: Any) -> OrderAccepted:
        """deliveryorder.create, or stockout.create for a non-trade ``order_type`` (DBCK transfer out, CGTH...);
        ``options`` go to ``documents.delivery_order`` (order_type, receiver...)."""
        options.setdefault("owner_code", self.owner_code)
        document = documents.delivery_order(code, warehouse_code=warehouse_code, lines=lines, **options)
        if options.get("order_type") in STOCKOUT_TYPES:
            answer = await self.client.create_stockout(document)
        else:
            answer = await self.client.create_delivery_order(document)
        return OrderAccepted(code, str(answer.get("deliveryOrderId", "")), answer)

    async def create_entry_order(self, code: str, *, warehouse_code: str, lines: Sequence[Mapping[str, Any]],
                                 **options: Any) -> OrderAccepted:
        """entryorder.create; ``options`` go to ``documents.entry_order`` (order_type CGRK/DBRK...)."""
        options.setdefault("owner_code", self.owner_code)
        answer = await self.client.create_entry_order(
            documents.entry_order(code, warehouse_code=warehouse_code, lines=lines, **options))
        return OrderAccepted(code, str(answer.get("entryOrderId", "")), answer)

    async def create_return_order(self, code: str, *, warehouse_code: str, lines: Sequence[Mapping[str, Any]],
                                  **options: Any) -> OrderAccepted:
        """returnorder.create; ``options`` go to ``documents.return_order`` (pre_delivery_order_code...)."""
        options.setdefault("owner_code", self.owner_code)
        answer = await self.client.create_return_order(
            documents.return_order(code, warehouse_code=warehouse_code, lines=lines, **options))
        return OrderAccepted(code, str(answer.get("returnOrderId", "")), answer)

    async def cancel_order(self, code: str, *, warehouse_code: str, order_type: str = "JYCK", order_id: str = "",
                           reason: str = "") -> dict[str, Any]:
        """order.cancel. ``ConflictError`` if the WMS already shipped/received it, ``NotFound`` if unknown."""
        return await self.client.cancel_order(documents.cancel_order(
            code, warehouse_code=warehouse_code, order_type=order_type, owner_code=self.owner_code,
            order_id=order_id, reason=reason))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


