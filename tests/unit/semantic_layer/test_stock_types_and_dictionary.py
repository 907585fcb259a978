from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from semantic_layer.dictionary import DictionaryError, load_dictionary
from semantic_layer.observation import Observation
from semantic_layer.stock_types import BUCKETS, ON_HAND_PARTS, StockType, UnknownStockType, is_bucket, parse_stock_type

T = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def test_every_stock_type_is_defined_in_english_and_chinese():
    for t in StockType:
        assert t.definition.en and t.definition.zh
    assert {t.value for t in ON_HAND_PARTS} | {"on_hand", "in_transit"} == {t.value for t in StockType if t.is_base}


def test_buckets_are_base_types_except_on_hand():
    assert is_bucket("free") and is_bucket("in_transit")
    assert not is_bucket("on_hand") and not is_bucket("sellable") and not is_bucket("nope")
    assert "on_hand" not in BUCKETS


def test_unknown_stock_type_lists_the_valid_ones():
    with pytest.raises(UnknownStockType, match="valid: on_hand"):
        parse_stock_type("onhand")


def test_observation_refuses_naive_time_and_normalises_to_utc():
    with pytest.raises(ValueError, match="no timezone"):
        Observation("wms", "A", "WH", "on_hand", 1, datetime(2026, 5, 1))
    from datetime import timedelta, timezone

    o = Observation("wms", "A", "WH", "on_hand", 1, datetime(2026, 5, 1, 10, tzinfo=timezone(timedelta(hours=8))))
    assert o.observed_at == T and o.observed_at.tzinfo is UTC


def test_seed_trust_scores():
    d = load_dictionary()
    assert d.trust("douyin") == 92
    assert d.trust("manual") == 63
    assert d.trust("manual_franchise_12") == 63  # a named manual source inherits the manual entry
    assert d.trust("wms") == 95


def test_douyin_sellable_includes_presale_locked():
    d = load_dictionary()
    m = d.meaning("douyin", "stock_num")
    assert m is not None and m.claim == "sellable" and m.formula() == "free + presale_locked"
    assert d.meaning("meituan", "stock").formula() == "on_hand - picking"


def test_decompose_solves_the_one_unknown_term():
    d = load_dictionary()
    claim = Observation("douyin", "A", "channel", "sellable", 152, T, field="stock_num")
    result = d.decompose(claim, {"presale_locked": 8})
    assert result.ok
    (free,) = result.observations
    assert (free.stock_type, free.quantity, free.field) == ("free", 144, "stock_num")


def test_decompose_says_when_it_cannot():
    d = load_dictionary()
    claim = Observation("douyin", "A", "channel", "sellable", 152, T, field="stock_num")
    result = d.decompose(claim, {})
    assert not result.ok and set(result.missing) == {"free", "presale_locked"}
    assert "cannot decompose douyin.stock_num" in result.reason
    inconsistent = d.decompose(claim, {"free": 100, "presale_locked": 8})
    assert not inconsistent.ok and "disagrees" in inconsistent.reason


def test_meituan_physical_solves_on_hand_from_picking():
    d = load_dictionary()
    claim = Observation("meituan", "A", "P1", "physical_ex_picking", 156, T, field="stock")
    (on_hand,) = d.decompose(claim, {"picking": 4}).observations
    assert (on_hand.stock_type, on_hand.quantity) == ("on_hand", 160)


def test_canonicalize_uses_sibling_figures_from_the_same_event():
    d = load_dictionary()
    batch = [
        Observation("douyin", "A", "channel", "sellable", 152, T, field="stock_num"),
        Observation("douyin", "A", "channel", "presale_locked", 8, T, field="presale_lock_num"),
        Observation("douyin", "B", "channel", "sellable", 37, T, field="stock_num"),
    ]
    out, failed = d.canonicalize(batch)
    assert any(o.sku == "A" and o.stock_type == "free" and o.quantity == 144 for o in out)
    # B sent no presale figure: Douyin lists the lock only when non-zero, so it counts as 0 (absent_means_zero)
    assert any(o.sku == "B" and o.stock_type == "free" and o.quantity == 37 for o in out)
    assert failed == []
    other = [Observation("meituan", "A", "S1", "physical_ex_picking", 5, T, field="stock")]
    assert [f.claim.sku for f in d.canonicalize(other)[1]] == ["A"]  # picking unknown, not assumed: kept as said


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_dictionary_errors_name_file_and_key(tmp_path):
    d = _write(tmp_path, "source: x\ntrust: 50\nfields:\n  f: {label: f, claim: sellable, meaning: {fre: 1}}\n")
    with pytest.raises(DictionaryError, match=r"x\.yaml: fields\.f\.meaning\.fre: is not a base stock type"):
        load_dictionary(d)
    d = _write(tmp_path, "source: x\ntrust: 101\n")
    with pytest.raises(DictionaryError, match=r"x\.yaml: trust: must be an integer 0\.\.100"):
        load_dictionary(d)


def test_a_named_instance_reads_with_its_platforms_entry_once_aliased() -> None:
    d = load_dictionary()
    with pytest.raises(DictionaryError, match="'eu_store' is not in the semantic dictionary"):
        d.entry("eu_store")
    assert d.alias("eu_store", "shopify")
    assert d.entry("eu_store") == d.entry("shopify") and d.trust("eu_store") == d.trust("shopify")
    assert not d.alias("eu_store2", "no_such_platform")  # nothing to read it with: stays unknown
    assert not d.alias("shopify", "wms")  # an entry's own name is never re-pointed
    assert d.entry("shopify").name == "shopify"
