"""The stock-state cube: every source's claims over time, by cell (source, sku, location, stock type).

Pure functions over an iterable of observations, so the hub can load rows from SQL and call them.
``realtime`` is the latest claim per cell; ``hour``/``day`` grain is the last claim in each bucket.
Ties on ``observed_at`` are broken by raw_event_id, then quantity, so every query is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from semantic_layer.observation import CellKey, Observation, to_utc

Grain = Literal["realtime", "hour", "day"]
GRAINS: tuple[str, ...] = ("realtime", "hour", "day")


def order_key(obs: Observation) -> tuple[datetime, int, int]:
    """Which of two claims about one cell is the later one."""
    return (obs.observed_at, obs.raw_event_id if obs.raw_event_id is not None else -1, obs.quantity)


@dataclass(frozen=True)
class CubePoint:
    cell: CellKey
    bucket: datetime | None  # start of the hour/day bucket (UTC); None at realtime grain
    value: int
    observed_at: datetime
    raw_event_id: int | None


def bucket_start(moment: datetime, grain: Grain, tz: tzinfo = UTC) -> datetime | None:
    """Start of the bucket holding ``moment`` (days are cut in ``tz``, e.g. Asia/Shanghai), in UTC."""
    if grain == "realtime":
        return None
    local = to_utc(moment).astimezone(tz)
    if grain == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif grain == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        raise ValueError(f"grain {grain!r} must be one of {', '.join(GRAINS)}")
    return start.astimezone(UTC)


def _select(
    observations: Iterable[Observation], sku: str | None, end: datetime | None
) -> Iterator[Observation]:
    end_utc = to_utc(end, "to") if end is not None else None
    for obs in observations:
        if sku is not None and obs.sku != sku:
            continue
        if end_utc is not None and obs.observed_at >= end_utc:
            continue
        yield obs


def latest(
    observations: Iterable[Observation], *, sku: str | None = None, as_of: datetime | None = None
) -> dict[CellKey, Observation]:
    """The latest claim per cell, counting only claims made before ``as_of`` (exclusive)."""
    out: dict[CellKey, Observation] = {}
    for obs in _select(observations, sku, as_of):
        prev = out.get(obs.cell)
        if prev is None or order_key(obs) > order_key(prev):
            out[obs.cell] = obs
    return out


def query(
    observations: Iterable[Observation],
    *,
    grain: Grain,
    sku: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: tzinfo = UTC,
) -> list[CubePoint]:
    """Cube points sorted by cell then time.

    realtime: the latest claim per cell as of ``end``; cells whose latest claim is older than
    ``start`` are left out. hour/day: the last claim in every bucket that starts in [start, end).
    """
    if grain not in GRAINS:
        raise ValueError(f"grain {grain!r} must be one of {', '.join(GRAINS)}")
    start_utc = to_utc(start, "from") if start is not None else None
    if grain == "realtime":
        points = [
            CubePoint(cell, None, o.quantity, o.observed_at, o.raw_event_id)
            for cell, o in latest(observations, sku=sku, as_of=end).items()
            if start_utc is None or o.observed_at >= start_utc
        ]
        return sorted(points, key=lambda p: p.cell)
    last: dict[tuple[CellKey, datetime], Observation] = {}
    for obs in _select(observations, sku, end):
        b = bucket_start(obs.observed_at, grain, tz)
        assert b is not None
        if start_utc is not None and b < start_utc:
            continue
        prev = last.get((obs.cell, b))
        if prev is None or order_key(obs) > order_key(prev):
            last[(obs.cell, b)] = obs
    points = [CubePoint(cell, b, o.quantity, o.observed_at, o.raw_event_id) for (cell, b), o in last.items()]
    return sorted(points, key=lambda p: (p.cell, p.bucket))


def cell_values(cells: Mapping[CellKey, Observation]) -> dict[CellKey, int]:
    return {cell: obs.quantity for cell, obs in cells.items()}


class CubeState:
    """The latest claim per cell, updated one observation at a time (the incremental side)."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, str, str], dict[str, Observation]] = {}

    def add(self, obs: Observation) -> bool:
        """Record ``obs``; True when it became the cell's latest claim (False: older than what we hold)."""
        cells = self._by.setdefault((obs.source, obs.sku, obs.stock_type), {})
        prev = cells.get(obs.location)
        if prev is not None and order_key(obs) <= order_key(prev):
            return False
        cells[obs.location] = obs
        return True

    def value(self, source: str, sku: str, stock_type: str, location: str | None = None) -> int | None:
        """One cell, or the sum over every location when ``location`` is None; None if never claimed."""
        cells = self._by.get((source, sku, stock_type), {})
        if location is not None:
            obs = cells.get(location)
            return obs.quantity if obs is not None else None
        return sum(o.quantity for o in cells.values()) if cells else None

    @property
    def cells(self) -> dict[CellKey, Observation]:
        return {o.cell: o for locs in self._by.values() for o in locs.values()}

    def skus(self) -> set[str]:
        return {sku for (_, sku, _) in self._by}
