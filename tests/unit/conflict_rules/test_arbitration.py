from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conflict_rules import Claim, arbitrate, check, load_rules
from semantic_layer.dictionary import load_dictionary
from semantic_layer.observation import Observation

T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
RULES = load_rules()
DICT = load_dictionary()


def claim(source: str, value: int, minutes: int = 0, stock_type: str = "on_hand", oid: int | None = None) -> Claim:
    obs = Observation(source, "A", "WH-SH", stock_type, value, T0 + timedelta(minutes=minutes))
    return Claim.from_observation(obs, DICT, observation_id=oid)


def test_default_rules_are_valid_and_versioned():
    assert check() == []
    assert RULES.id == "default" and RULES.version


def test_wms_is_the_authority_for_on_hand_even_when_older():
    d = arbitrate([claim("pos", 150, minutes=30), claim("wms", 168)], 160, RULES)
    assert (d.outcome, d.value, d.chosen.source, d.stage) == ("settled", 168, "wms", "authority.on_hand")
    assert [c.source for c in d.dropped] == ["pos"]


def test_low_trust_claim_beyond_tolerance_goes_to_quarantine():
    d = arbitrate([claim("manual_franchise_12", 150)], 168, RULES)
    assert d.outcome == "quarantine" and d.value == 150 and d.stage == "tolerance"
    assert "trust 63 < 80" in d.reason and d.rule_version == RULES.version


def test_low_trust_claim_within_tolerance_settles():
    assert arbitrate([claim("manual", 167)], 168, RULES).outcome == "settled"


def test_ecommerce_outranks_pos_within_the_skew_window():
    d = arbitrate([claim("pos", 7, 1, "reserved"), claim("douyin", 5, 0, "reserved")], 0, RULES)
    assert (d.value, d.stage) == (5, "priority")


def test_fresher_claim_wins_beyond_the_skew_window():
    d = arbitrate([claim("douyin", 5, 0, "reserved"), claim("pos", 7, 10, "reserved")], 6, RULES)
    assert (d.outcome, d.value, d.stage) == ("settled", 7, "freshness")
    # the same fresher low-trust claim moving the figure by more than pos's tolerance is held back
    assert arbitrate([claim("douyin", 5, 0, "reserved"), claim("pos", 7, 10, "reserved")], 0, RULES).outcome == "quarantine"


def test_trust_weighted_vote_and_no_change():
    claims = [claim("douyin", 5, 0, "reserved"), claim("taobao", 6, 0, "reserved"), claim("jd", 6, 0, "reserved")]
    d = arbitrate(claims, 0, RULES)
    assert (d.value, d.stage) == (6, "trust_vote")  # 90 + 90 outweighs 92
    assert arbitrate(claims, 6, RULES).outcome == "no_change"


def test_a_sources_newer_claim_supersedes_its_older_one():
    d = arbitrate([claim("wms", 100, 0), claim("wms", 168, 5)], None, RULES)
    assert d.value == 168 and d.outcome == "settled"


def test_check_names_file_and_rule(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nversion: 1\ntrust_threshold: 180\nclasses: {ecommerce: [douyin]}\n"
        "authority: {onhand: [wms]}\npriority: [ecommerce, store]\n"
    )
    problems = check(bad)
    assert any("bad.yaml: rule trust_threshold" in p for p in problems)
    assert any("bad.yaml: rule authority.onhand: is not a stock type" in p for p in problems)
    assert any("rule priority: 'store' is neither" in p for p in problems)


_claims = st.lists(
    st.builds(
        claim,
        st.sampled_from(["wms", "douyin", "taobao", "pos", "manual", "manual_franchise_3", "meituan"]),
        st.integers(0, 300),
        st.integers(0, 10),
        st.just("reserved"),
        st.one_of(st.none(), st.integers(1, 5)),
    ),
    max_size=8,
)


@given(_claims, st.one_of(st.none(), st.integers(0, 300)), st.randoms())
@settings(max_examples=300, deadline=None)
def test_arbitration_is_deterministic_and_order_independent(claims, current, rnd):
    first = arbitrate(claims, current, RULES)
    shuffled = list(claims)
    rnd.shuffle(shuffled)
    again = arbitrate(shuffled, current, RULES)
    assert again == first
    if first.outcome == "settled":
        assert first.value != current and first.chosen in claims
