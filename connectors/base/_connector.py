"""The connector contract: one class per platform, one object per configured instance (shop).

A connector declares what it can do (``capabilities``) and implements just those methods; the
others raise ``NotSupported``. The hub calls it like this::

    connector = registry.load("shopify")(config)          # InstanceConfig of the shop
    event = connector.verify_push(request.headers, raw_body, now=time.time())   # or VerificationError
    status, body, content_type = connector.push_ack(event)
    page = await connector.poll("orders", saved_cursor)   # save page.next_cursor once durable
    levels = await connector.read_stock(["SKU-A"])        # {"SKU-A": 12}
    result = await connector.write_stock("SKU-A", 10, compare_to=12, delta=None, idempotency_key="push:1")
    await connector.aclose()

A plugin outside the repo subclasses ``Connector`` and imports nothing but ``connectors.base``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ._capability import Capability
from ._config import InstanceConfig
from ._errors import NotSupported, ValidationError, VerificationError
from ._model import Page, PushAck, PushedEvent, WriteResult

__all__ = ["Connector"]


class Connector:
    """Base class of every connector. Subclasses set the class attributes and override methods.

    Class attributes:
        platform: registry name, e.g. ``"shopify"``.
        capabilities: what this connector implements.
        sandbox_app: ``"pkg.mod:create_app"`` of its sandbox factory (keyword-only
            ``app_key, app_secret, access_token, hub_url=None, ...``), for tests, ``make run`` and bench.
        mapping_dir: folder (under ``mappings/``) holding its mapping YAML, e.g. ``"shopify"``.
        streams: names accepted by ``poll``.
    """

    platform: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    sandbox_app: ClassVar[str | None] = None
    mapping_dir: ClassVar[str | None] = None
    streams: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: InstanceConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def _unsupported(self, what: str) -> NotSupported:
        return NotSupported(f"{self.platform or type(self).__name__} connector cannot {what}", instance=self.name)

    # -- push ---------------------------------------------------------------------------------
    def verify_push(self, headers: Mapping[str, str], body: bytes, *, now: float) -> PushedEvent:
        """Check a pushed request exactly as the platform signs it and parse it.

        ``now`` is unix seconds (injected so tests can age a request). Raises ``VerificationError``
        with the status the platform expects for a tampered, stale, foreign or malformed push.
        """
        raise VerificationError(404, f"{self.platform} connector does not accept pushes", instance=self.name)

    def push_ack(self, event: PushedEvent) -> PushAck:
        """The answer the platform expects once the event is durable (default: 200, empty)."""
        return PushAck(200, b"", "text/plain")

    def push_refusal(self, error: VerificationError) -> PushAck:
        """The answer for a refused push (default: the error's status and reason as text)."""
        return PushAck(error.status_code, error.reason.encode(), "text/plain; charset=utf-8")

    # -- pull ---------------------------------------------------------------------------------
    async def poll(self, stream: str, cursor: str | None) -> Page:
        """One page of ``stream`` after ``cursor`` (``None``: from the start)."""
        raise self._unsupported("poll")

    async def list_orders(self, cursor: str | None) -> Page:
        """Orders changed since ``cursor``; by default the ``"orders"`` poll stream."""
        if Capability.LIST_ORDERS not in self.capabilities:
            raise self._unsupported("list orders")
        return await self.poll("orders", cursor)

    # -- stock --------------------------------------------------------------------------------
    async def read_stock(self, skus: Sequence[str]) -> dict[str, int]:
        """Sellable quantity per SKU as the platform holds it now."""
        raise self._unsupported("read stock")

    async def write_stock(
        self,
        sku: str,
        quantity: int | None,
        *,
        compare_to: int | None = None,
        delta: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        """Set the sellable quantity (``quantity``), or change it by ``delta`` when ``quantity`` is None.

        ``compare_to`` makes it a compare-and-set (``ConflictError`` if the platform holds another
        value). ``idempotency_key`` makes a retried write change nothing twice.
        """
        raise self._unsupported("write stock")

    def _check_stock_write(
        self, sku: str, quantity: int | None, *, compare_to: int | None, delta: int | None, negative_ok: bool = False
    ) -> None:
        """Refuse, before any call, a ``write_stock`` this connector cannot honour.

        A compare-and-set or delta the class does not declare in ``capabilities`` raises
        ``NotSupported``; neither a quantity nor a delta, or a negative quantity (unless the
        platform holds negative stock: ``negative_ok``), raises ``ValidationError``.
        """
        if compare_to is not None and Capability.WRITE_STOCK_CAS not in self.capabilities:
            raise NotSupported(f"{self.platform} stock writes cannot compare-and-set", instance=self.name)
        if quantity is None:
            if delta is None:
                raise ValidationError("write_stock needs a quantity or a delta", instance=self.name)
            if Capability.WRITE_STOCK_DELTA not in self.capabilities:
                raise NotSupported(f"{self.platform} stock writes take a full quantity, not a delta",
                                   instance=self.name)
        elif quantity < 0 and not negative_ok:
            raise ValidationError(f"stock for {sku} cannot be negative ({quantity})", instance=self.name)

    # -- ERP / WMS ----------------------------------------------------------------------------
    async def post_voucher(self, voucher: Mapping[str, Any], *, idempotency_key: str) -> WriteResult:
        raise self._unsupported("post vouchers")

    async def aclose(self) -> None:
        """Release HTTP clients; idempotent."""

    async def __aenter__(self) -> Connector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
