"""The canonical stock vocabulary, the semantic dictionary, the stock-state cube and views (pure)."""

from semantic_layer.observation import CellKey, Observation, OrderEvent, OrderLine, StockDelta
from semantic_layer.stock_types import BUCKETS, ON_HAND_PARTS, StockType, is_bucket

__all__ = [
    "BUCKETS",
    "ON_HAND_PARTS",
    "CellKey",
    "Observation",
    "OrderEvent",
    "OrderLine",
    "StockDelta",
    "StockType",
    "is_bucket",
]
