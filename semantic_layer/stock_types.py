"""The canonical stock-type vocabulary every source figure is translated into.

Base types are stored (observations and ledger buckets); derived types are formulas over them
and only ever appear as a source's *claim* (e.g. Douyin's 可售库存 is a ``sellable`` claim) or
as a view.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Definition:
    en: str
    zh: str


class StockType(str, Enum):
    ON_HAND = "on_hand"
    FREE = "free"
    RESERVED = "reserved"
    PRESALE_LOCKED = "presale_locked"
    PICKING = "picking"
    QUALITY_HOLD = "quality_hold"
    DAMAGED = "damaged"
    IN_TRANSIT = "in_transit"
    AVAILABLE = "available"
    SELLABLE = "sellable"
    PROJECTED = "projected"

    def __str__(self) -> str:
        return self.value

    @property
    def definition(self) -> Definition:
        return DEFINITIONS[self]

    @property
    def is_base(self) -> bool:
        return self in BASE_TYPES

    @property
    def is_derived(self) -> bool:
        return self in DERIVED_TYPES


DEFINITIONS: dict[StockType, Definition] = {
    StockType.ON_HAND: Definition(
        "Physical units at a location: free + reserved + presale_locked + picking + quality_hold + damaged.",
        "物理库存：某地点实际存在的全部数量（可用+占用+预售锁定+分拣中+质检冻结+残次）。",
    ),
    StockType.FREE: Definition("Physical units not promised to anyone.", "可用库存（未占用）：未被任何订单占用的实物。"),
    StockType.RESERVED: Definition(
        "Units promised to placed orders, waiting for outbound.", "已占用/待出库：已被订单占用、等待出库的数量。"
    ),
    StockType.PRESALE_LOCKED: Definition("Units locked for pre-sale orders.", "预售锁定：为预售订单锁定的数量。"),
    StockType.PICKING: Definition("Units being picked or packed for shipment.", "分拣中：正在拣货或打包的数量。"),
    StockType.QUALITY_HOLD: Definition("Units frozen pending quality inspection.", "质检冻结：待质检、暂不可售。"),
    StockType.DAMAGED: Definition("Damaged units that cannot be sold as new.", "残次：损坏、不能按正品销售。"),
    StockType.IN_TRANSIT: Definition(
        "Units on the way (purchase or transfer), not yet at the location.", "在途：采购或调拨途中、尚未到达。"
    ),
    StockType.AVAILABLE: Definition(
        "What can still be promised (a consumer-specific formula, e.g. the ERP's view).",
        "可用库存（派生）：还能承诺出去的数量，按消费方的公式计算。",
    ),
    StockType.SELLABLE: Definition(
        "What a sales channel may sell; each channel's meaning is in the semantic dictionary.",
        "可售库存（派生）：某渠道可以售卖的数量，各渠道含义见语义字典。",
    ),
    StockType.PROJECTED: Definition(
        "Expected stock after in-transit arrivals and open orders.", "预计库存（派生）：计入在途与未结订单后的预计数量。"
    ),
}

BASE_TYPES: frozenset[StockType] = frozenset(
    {
        StockType.ON_HAND,
        StockType.FREE,
        StockType.RESERVED,
        StockType.PRESALE_LOCKED,
        StockType.PICKING,
        StockType.QUALITY_HOLD,
        StockType.DAMAGED,
        StockType.IN_TRANSIT,
    }
)
DERIVED_TYPES: frozenset[StockType] = frozenset({StockType.AVAILABLE, StockType.SELLABLE, StockType.PROJECTED})

# on_hand = the sum of these at one location.
ON_HAND_PARTS: tuple[StockType, ...] = (
    StockType.FREE,
    StockType.RESERVED,
    StockType.PRESALE_LOCKED,
    StockType.PICKING,
    StockType.QUALITY_HOLD,
    StockType.DAMAGED,
)

# Ledger buckets: every base type but on_hand (which is their sum, never stored as a bucket).
BUCKETS: tuple[str, ...] = tuple(t.value for t in (*ON_HAND_PARTS, StockType.IN_TRANSIT))


class UnknownStockType(ValueError):
    pass


def is_bucket(name: str) -> bool:
    """True for a ledger bucket name (a base stock type other than on_hand)."""
    return name in BUCKETS


def is_stock_type(name: str) -> bool:
    return name in StockType._value2member_map_


def parse_stock_type(name: str) -> StockType:
    """The StockType for ``name``; the error lists the valid names."""
    try:
        return StockType(name)
    except ValueError:
        valid = ", ".join(t.value for t in StockType)
        raise UnknownStockType(f"unknown stock type {name!r}; valid: {valid}") from None
