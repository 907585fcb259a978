from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from semantic_layer.cube import CubeState, latest, query
from semantic_layer.observation import CellKey, Observation

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)


def obs(q: int, minutes: int, source: str = "wms", sku: str = "A", loc: str = "WH", st: str = "on_hand", rid: int | None = None):
    return Observation(source, sku, loc, st, q, T0 + timedelta(minutes=minutes), raw_event_id=rid)


def test_realtime_is_latest_per_cell_regardless_of_arrival_order():
    data = [obs(5, 30), obs(7, 10), obs(1, 5, source="douyin")]
    points = query(reversed(data), grain="realtime", sku="A")
    assert {(p.cell.source, p.value) for p in points} == {("wms", 5), ("douyin", 1)}


def test_realtime_as_of_end_and_from_start():
    data = [obs(5, 30), obs(7, 10)]
    assert [p.value for p in query(data, grain="realtime", end=T0 + timedelta(minutes=20))] == [7]
    assert query(data, grain="realtime", start=T0 + timedelta(minutes=31)) == []


def test_hour_grain_keeps_the_last_value_in_each_bucket():
    data = [obs(1, 0), obs(2, 59), obs(3, 61), obs(4, 125)]
    points = query(data, grain="hour", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3))
    assert [(p.bucket, p.value) for p in points] == [(T0 + timedelta(hours=1), 3), (T0 + timedelta(hours=2), 4)]


def test_day_grain_cuts_days_in_the_given_zone():
    shanghai = timezone(timedelta(hours=8))
    data = [obs(1, 60 * 15), obs(2, 60 * 17)]  # 23:00 and 01:00 Shanghai time
    assert len(query(data, grain="day")) == 1
    assert [p.value for p in query(data, grain="day", tz=shanghai)] == [1, 2]


def test_ties_on_time_are_broken_by_raw_event_id():
    a, b = obs(1, 0, rid=2), obs(9, 0, rid=1)
    assert latest([a, b])[a.cell].quantity == 1
    assert latest([b, a])[a.cell].quantity == 1


def test_cube_state_sums_locations_and_ignores_stale_claims():
    c = CubeState()
    assert c.add(obs(5, 10, loc="W1")) and c.add(obs(3, 10, loc="W2"))
    assert not c.add(obs(100, 1, loc="W1"))
    assert c.value("wms", "A", "on_hand") == 8
    assert c.value("wms", "A", "on_hand", "W2") == 3
    assert c.value("wms", "A", "free") is None
    assert CellKey("wms", "A", "W1", "on_hand") in c.cells
