from __future__ import annotations

from connectors.yonyou import signing


def test_token_signature_matches_the_worked_example() -> None:
    key, ts = "41832a3d2df94989b500da6a22268747", 1568098531823
    assert signing.string_to_sign({"appKey": key, "timestamp": str(ts), "signature": "x"}) == (
        "appKey41832a3d2df94989b500da6a22268747timestamp1568098531823")
    assert signing.token_signature_raw(key, "yonsecret", ts) == "uRl47JsBiL2O3EPUaLO4pkxJy/SHY0XB2Z1SUN4LnO0="
    assert signing.token_signature(key, "yonsecret", ts) == "uRl47JsBiL2O3EPUaLO4pkxJy%2FSHY0XB2Z1SUN4LnO0%3D"


def test_signature_changes_with_the_secret_and_the_timestamp() -> None:
    base = signing.token_signature_raw("k", "s", 1)
    assert base != signing.token_signature_raw("k", "s2", 1)
    assert base != signing.token_signature_raw("k", "s", 2)
