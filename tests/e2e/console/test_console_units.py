"""The console's pure parts: secret masking, charts, the two languages, safe log-in redirects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hub.console import charts, masking
from hub.console.i18n import EN, ZH, translator
from hub.console.routes import _safe_next


def test_secret_headers_are_masked_and_others_kept() -> None:
    headers = {"Authorization": "Bearer zs_abc", "Cookie": "zhongshu_session=xyz", "X-Shopify-Hmac-Sha256": "q1w2",
               "sign": "ABCDEF", "x-doudian-signature": "SIG-VALUE-9", "x-token": "TOKEN-VALUE-7",
               "content-type": "application/json", "x-zhongshu-topic": "inventory.query"}  # fmt: skip
    masked = masking.mask_headers(headers)
    for name in ("Authorization", "Cookie", "X-Shopify-Hmac-Sha256", "sign", "x-doudian-signature", "x-token"):
        assert headers[name] not in masked[name] and masked[name].startswith("••••"), name
    assert masked["content-type"] == "application/json"
    assert masked["x-zhongshu-topic"] == "inventory.query"


def test_secret_fields_are_masked_at_any_depth_and_inside_json_strings() -> None:
    body = {"app_key": "12345", "sign": "DEADBEEF", "data": json.dumps({"access_token": "tok-1", "stock": 5}),
            "nested": [{"password": "hunter2", "qty": 3}], "client_secret": "cs"}  # fmt: skip
    kind, text = masking.pretty_body(json.dumps(body).encode())
    assert kind == "json"
    for secret in ("DEADBEEF", "tok-1", "hunter2", '"cs"'):
        assert secret not in text
    assert "12345" in text and '\\"stock\\": 5' in text and '"qty": 3' in text


def test_form_and_xml_bodies_are_masked() -> None:
    kind, text = masking.pretty_body(b"method=taobao.item.get&sign=ABC123&timestamp=1")
    assert kind == "form" and "ABC123" not in text and "method=taobao.item.get" in text
    kind, text = masking.pretty_body(b"<request><sign>XYZ</sign><qty>4</qty></request> ")
    assert kind == "text" and "XYZ" not in text and "<qty>4</qty>" in text


def test_per_minute_counts_and_sparkline() -> None:
    end = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    moments = [end - timedelta(seconds=30), end - timedelta(seconds=20), end - timedelta(minutes=59, seconds=30),
               end - timedelta(hours=2), end]  # fmt: skip
    counts = charts.per_minute(moments, end=end, minutes=60)
    assert counts[-1] == 2 and counts[0] == 1 and sum(counts) == 3
    svg = charts.sparkline(counts)
    assert svg.startswith("<svg") and svg.count(",") == 60
    assert charts.sparkline([]) == ""


def test_step_chart_has_one_dot_per_point() -> None:
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    svg = charts.step_chart([(t0, 3), (t0 + timedelta(hours=1), 5), (t0 + timedelta(hours=2), 4)])
    assert svg.count("<circle") == 3 and "3–5" in svg


def test_both_languages_have_every_key() -> None:
    assert set(EN) == set(ZH)
    assert translator("zh")("nav.rules") == "规则"
    assert translator("xx")("nav.rules") == "Rules"
    assert translator("zh")("no.such.key") == "no.such.key"


def test_login_redirect_stays_in_the_console() -> None:
    assert _safe_next("/console/sku?q=A") == "/console/sku?q=A"
    for bad in ("https://evil.example/", "//evil.example/console", "/api/v1/movements", "", None, "/console\\..\\x"):
        assert _safe_next(bad) == "/console"
