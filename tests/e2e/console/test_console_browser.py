"""The ops console in a real browser: log in, follow the seed's figure 164 back to its three raw events,
approve a quarantined claim and see the ledger move, retry a dead job, and a viewer who can do none of it."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx
import pytest

from hub.jobs.registry import job
from hub.storage.models import Job, utcnow
from tests.e2e.console.conftest import (
    client_as,
    fixture_payload,
    login_page,
    post_raw,
    quarantine_for,
    run_db,
    shot,
    wait_processed,
)

pytestmark = pytest.mark.slow

FLAKY = {"fail": True}


@job("console_e2e.flaky", max_attempts=1)
async def flaky(ctx: Any, **_: Any) -> None:
    """Fails like a push the platform refused, until the test lets it succeed."""
    if FLAKY["fail"]:
        raise RuntimeError("platform answered 40001: sku not on sale (test)")


def dead_job(settings: Any, key: str) -> int:
    async def add(session: Any) -> int:
        row = Job(name="console_e2e.flaky", job_key=key, args={}, state="pending", priority=100, run_at=utcnow(),
                  attempts=0, created_at=utcnow())  # fmt: skip
        session.add(row)
        await session.flush()
        return int(row.id)

    job_id = run_db(settings, add)
    wait_job(settings, job_id, "dead")
    return job_id


def wait_job(settings: Any, job_id: int, state: str, timeout: float = 15) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        async def get(session: Any) -> Job | None:
            return await session.get(Job, job_id)

        row = run_db(settings, get)
        if row is not None and row.state == state:
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {row.state if row else None}, expected {state}")
        time.sleep(0.1)


def test_seed_figure_164_leads_back_to_all_three_raw_events(browser: Any, server: Any, admin_api: httpx.Client) -> None:
    seeds = [("wms", "qimen/inventory_query_response"), ("meituan", "meituan/sku_stock"),
             ("douyin", "douyin/sku_stock_change")]  # fmt: skip
    raw_ids = {}
    for source, name in seeds:
        f = fixture_payload(name)
        raw_ids[source] = post_raw(admin_api, source, f["topic"], f["payload"], f"seed-{source}")
    for raw_id in raw_ids.values():
        assert wait_processed(admin_api, raw_id)["status"] == "processed"

    page = login_page(browser, server, "operator")
    shot(page, "overview")
    assert page.locator("#sources tr[data-source='wms']").count() == 1
    page.click("a[data-nav='sku']")
    page.fill("#sku-q", "A")
    page.click("#sku-search")
    assert page.locator("#sku-title").inner_text() == "SKU A"
    figure = page.locator("tr[data-view='erp.available'] a.figure")
    assert figure.inner_text() == "164"
    # the cube shows each source's claim, each a link to its lineage
    assert page.locator("td[data-cell='wms.on_hand'] a.figure").first.inner_text() == "168"
    assert page.locator("td[data-cell='meituan.reserved'] a.figure").first.inner_text() == "12"
    assert page.locator("td[data-cell='douyin.presale_locked'] a.figure").first.inner_text() == "8"
    page.click("a.grain[data-grain='hour']")
    page.wait_for_selector("#cube[data-grain='hour'] svg.chart")
    shot(page, "sku-explorer")

    figure = page.locator("tr[data-view='erp.available'] a.figure")
    figure.click()
    page.wait_for_url(re.compile(r"/console/lineage\?node=view:\d+"))
    assert "erp.available(A) = 164" in page.locator("li.node.focus").inner_text()
    markers = {"wms": "WMS-10001", "meituan": "MT-POI-1", "douyin": "doudian_sku_stock_change"}
    for source, raw_id in raw_ids.items():
        node = page.locator(f"li.node[data-node='raw:{raw_id}']")
        assert node.count() == 1, f"raw:{raw_id} ({source}) not upstream of 164"
        node.locator("button.open").click()
        body = node.locator(f"pre[data-raw-body='{raw_id}']")
        body.wait_for()
        assert markers[source] in body.inner_text()
    # the mapping rules that turned them into observations are on the chain too, with versions
    assert page.locator("li.node[data-node^='rule:qimen.inventory_query@']").count() == 1
    shot(page, "lineage")
    page.context.close()


def test_approving_a_quarantined_claim_moves_the_ledger(browser: Any, server: Any, admin_api: httpx.Client) -> None:
    sku = f"Q-{uuid.uuid4().hex[:8]}"
    decision_id = quarantine_for(admin_api, sku, wms_qty=168, counted=150)
    page = login_page(browser, server, "operator")
    page.click("a[data-nav='conflicts']")
    card = page.locator(f"#decision-{decision_id}")
    assert card.locator(".claim[data-claim='manual_franchise_12'] .claim-val").inner_text() == "150"
    assert card.locator(".claim[data-claim='wms'] .claim-val").inner_text() == "168"
    assert card.locator(".ledger-now").inner_text() == "168"
    shot(page, "conflicts")
    card.locator("input[name='reason']").fill("recount confirmed by the store manager")
    card.locator("button.approve").click()
    resolved = page.locator(f"#decision-{decision_id}[data-status='approved']")
    resolved.wait_for()
    assert resolved.locator(".before").inner_text() == "168"
    assert resolved.locator(".after").inner_text() == "150"
    page.goto(f"/console/sku?q={sku}")
    assert page.locator("tr[data-account='WH-SH/free'] td.fig").inner_text() == "150"
    assert admin_api.get(f"/api/v1/decisions?sku={sku}&status=approved").json()[0]["resolved_by"] == "olga"
    page.context.close()


def test_retrying_a_dead_job_runs_it_again(browser: Any, server: Any, console_settings: Any) -> None:
    FLAKY["fail"] = True
    job_id = dead_job(console_settings, f"console-e2e:{uuid.uuid4().hex}")
    page = login_page(browser, server, "operator")
    page.click("a[data-nav='sync']")
    row = page.locator(f"#dead-jobs tr#job-{job_id}")
    assert "40001" in row.inner_text()
    shot(page, "sync")
    FLAKY["fail"] = False
    row.locator("button.retry").click()
    page.locator(f"tr#job-{job_id}.ok").wait_for()
    done = wait_job(console_settings, job_id, "done")
    assert done.attempts == 1  # reset by the retry, then run once more
    page.reload()
    assert page.locator(f"#dead-jobs tr#job-{job_id}").count() == 0
    page.context.close()


def test_viewer_sees_no_controls_and_is_refused_directly(browser: Any, server: Any, admin_api: httpx.Client,
                                                        console_settings: Any) -> None:  # fmt: skip
    FLAKY["fail"] = True
    decision_id = quarantine_for(admin_api, f"V-{uuid.uuid4().hex[:8]}")
    job_id = dead_job(console_settings, f"console-e2e:{uuid.uuid4().hex}")
    raw_id = post_raw(admin_api, "douyin", "doudian_sku_stock_change",
                      fixture_payload("douyin/sku_stock_change")["payload"], f"viewer-{uuid.uuid4().hex}")  # fmt: skip
    wait_processed(admin_api, raw_id)

    page = login_page(browser, server, "viewer")
    assert "viewer" in page.locator("#whoami").inner_text()
    page.click("a[data-nav='conflicts']")
    assert page.locator(f"#decision-{decision_id}").count() == 1
    assert page.locator("button.approve, button.reject, input[name='reason']").count() == 0
    page.click("a[data-nav='sync']")
    assert page.locator(f"#dead-jobs tr#job-{job_id}").count() == 1
    assert page.locator("button.retry").count() == 0
    page.goto(f"/console/lineage?node=raw:{raw_id}")
    page.locator(f"li.node[data-node='raw:{raw_id}'] button.open").click()
    page.locator(f"pre[data-raw-body='{raw_id}']").wait_for()
    assert page.locator("button.replay").count() == 0
    page.context.close()

    viewer = client_as(server, "viewer")
    try:
        for path, data in [(f"/console/decisions/{decision_id}/approve", {"reason": "x"}),
                           (f"/console/decisions/{decision_id}/reject", {"reason": "x"}),
                           (f"/console/jobs/{job_id}/retry", {}), (f"/console/raw/{raw_id}/replay", {})]:  # fmt: skip
            assert viewer.post(path, data=data).status_code == 403, path
        assert viewer.post(f"/api/v1/decisions/{decision_id}/approve", json={"reason": "x"}).status_code == 403
        assert viewer.get("/console/conflicts").status_code == 200  # the viewer is logged in: refused for role only
    finally:
        viewer.close()
    assert admin_api.get("/api/v1/decisions", params={"status": "pending"}).json()[0]["id"] >= decision_id
    assert wait_job(console_settings, job_id, "dead").state == "dead"


def test_rules_dry_run_and_chinese(browser: Any, server: Any) -> None:
    page = login_page(browser, server, "viewer", lang="zh")
    assert page.locator("a[data-nav='rules']").inner_text() == "规则"
    page.click("a[data-nav='rules']")
    f = fixture_payload("qimen/inventory_query_response")
    page.select_option("#dry-connector", "qimen")
    page.fill("#dry-topic", f["topic"])
    page.fill("#dry-source", "wms")
    import json

    page.fill("#dry-payload", json.dumps(f["payload"], ensure_ascii=False))
    page.click("#dry-run")
    result = page.locator("#dryrun-result .dryrun-out")
    result.wait_for()
    assert result.get_attribute("data-rule") == "qimen.inventory_query"
    assert "168" in result.locator("table.dry-obs").inner_text()
    assert page.locator("tr[data-viewdef='erp.available']").count() == 1
    shot(page, "rules")
    page.click("#lang-switch")
    assert page.locator("a[data-nav='rules']").inner_text() == "Rules"
    page.goto("/console/vouchers")
    shot(page, "vouchers")
    page.context.close()
