"""What a connector can do, declared so the hub only asks for what exists."""

from __future__ import annotations

import enum

__all__ = ["Capability"]


class Capability(enum.StrEnum):
    """One thing a connector can do; ``Connector.capabilities`` is a frozenset of these."""

    PUSH = "push"  # verify_push / push_ack: the platform pushes signed events
    POLL = "poll"  # poll(stream, cursor)
    READ_STOCK = "read_stock"
    WRITE_STOCK = "write_stock"  # absolute quantity
    WRITE_STOCK_CAS = "write_stock_cas"  # write_stock(..., compare_to=n)
    WRITE_STOCK_DELTA = "write_stock_delta"  # write_stock(..., delta=n)
    LIST_ORDERS = "list_orders"
    POST_VOUCHERS = "post_vouchers"  # ERP connectors
    WMS_ORDERS = "wms_orders"  # inbound/outbound orders to a warehouse
