"""Signed delivery, retries on the (shortened) schedule, dead letters, disabling, replay, secret rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx

from tests.integration.outbound.helpers import deliveries_of, emit_events, subscribe, unique_path, wait_for

SKU = "SKU-OUT-1"


async def test_every_delivery_verifies_with_standardwebhooks(out_server, receiver, out_db) -> None:
    path = unique_path()
    sub = subscribe(out_server, receiver.endpoint(path), ["stock.changed"])
    assert sub["secret"].startswith("whsec_")
    receiver.endpoints[path].secrets = [sub["secret"]]
    payloads = [{"sku": SKU, "available": n} for n in range(5)]
    event_ids = await emit_events(out_db, "stock.changed", payloads, sku=SKU)

    await wait_for(lambda: len(receiver.at(path)) >= 5, "5 deliveries")
    seen = receiver.at(path)
    assert all(s.verified for s in seen), [s.headers for s in seen if not s.verified]
    assert len({s.headers["webhook-id"] for s in seen}) == 5
    bodies = sorted((json.loads(s.body) for s in seen), key=lambda b: b["data"]["available"])
    assert [b["data"] for b in bodies] == payloads
    assert {b["type"] for b in bodies} == {"stock.changed"}
    deliveries = await wait_for(lambda: _all_delivered(out_db, sub["id"], 5), "deliveries recorded as delivered")
    assert sorted(d.event_id for d in deliveries) == sorted(event_ids)


async def _all_delivered(out_db, sub_id: int, n: int):  # type: ignore[no-untyped-def]
    rows = await deliveries_of(out_db, sub_id)
    return rows if len(rows) == n and all(d.state == "delivered" for d in rows) else None


async def test_fails_three_times_then_delivered_once_on_the_fourth(out_server, receiver, out_db) -> None:
    path = unique_path()
    sub = subscribe(out_server, receiver.endpoint(path), ["order.reserved"])
    receiver.endpoints[path].secrets = [sub["secret"]]
    receiver.endpoints[path].script = [500, 503, 500]
    await emit_events(out_db, "order.reserved", [{"order": "O-1"}])

    rows = await wait_for(lambda: _all_delivered(out_db, sub["id"], 1), "delivery after retries")
    seen = receiver.at(path)
    assert [s.status for s in seen] == [500, 503, 500, 200]
    assert len({s.headers["webhook-id"] for s in seen}) == 1  # same id every attempt: the receiver's dedupe key
    assert rows[0].webhook_id == seen[0].headers["webhook-id"]
    assert all(s.verified for s in seen)
    assert rows[0].attempts == 4
    detail = httpx.get(f"{out_server.url}/api/v1/deliveries/{rows[0].id}", headers=out_server.auth).json()
    assert [a["status"] for a in detail["attempts"]] == [500, 503, 500, 200]
    assert [a["outcome"] for a in detail["attempts"]] == ["retry", "retry", "retry", "success"]


async def test_filters_select_events(out_server, receiver, out_db) -> None:
    path = unique_path()
    sub = subscribe(out_server, receiver.endpoint(path), ["stock.*"], filters={"skus": ["SKU-F1"], "shops": []})
    await emit_events(out_db, "stock.changed", [{"n": 1}], sku="SKU-F2")
    await emit_events(out_db, "stock.low", [{"n": 2}], sku="SKU-F1")
    await emit_events(out_db, "voucher.posted", [{"n": 3}], sku="SKU-F1")
    await wait_for(lambda: len(receiver.at(path)) >= 1, "the matching event")
    rows = await deliveries_of(out_db, sub["id"])
    assert len(rows) == 1
    assert [json.loads(s.body)["type"] for s in receiver.at(path)] == ["stock.low"]


async def test_dead_letter_then_replay_with_same_webhook_id(out_server, receiver, out_db) -> None:
    path = unique_path()
    sub = subscribe(out_server, receiver.endpoint(path), ["sync.failed"])
    receiver.endpoints[path].default = 500
    started = datetime.now(UTC) - timedelta(seconds=1)
    await emit_events(out_db, "sync.failed", [{"channel": "jd"}])
    rows = await wait_for(lambda: _in_state(out_db, sub["id"], "dead"), "dead letter")
    assert rows[0].attempts == 5  # 1 + 4 retries of the shortened schedule
    dead = httpx.get(
        out_server.url + "/api/v1/deliveries",
        params={"state": "dead", "subscription_id": sub["id"]},
        headers=out_server.auth,
    ).json()["deliveries"]
    assert [d["id"] for d in dead] == [rows[0].id]

    receiver.endpoints[path].default = 200
    operator = {"Authorization": f"Bearer {out_server.token('operator')}"}
    r = httpx.post(f"{out_server.url}/api/v1/deliveries/{rows[0].id}/replay", headers=operator)
    assert r.status_code == 202, r.text
    await wait_for(lambda: _in_state(out_db, sub["id"], "delivered"), "replayed delivery")
    ids = {s.headers["webhook-id"] for s in receiver.at(path)}
    assert ids == {rows[0].webhook_id}
    assert receiver.at(path)[-1].status == 200

    # a time-range replay re-arms the (now delivered) delivery when asked for delivered ones too
    r = httpx.post(
        out_server.url + "/api/v1/deliveries/replay",
        headers=operator,
        json={
            "from": started.isoformat(),
            "to": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
            "subscription_id": sub["id"],
            "states": ["delivered"],
        },
    )
    assert r.status_code == 202, r.text
    assert r.json()["delivery_ids"] == [rows[0].id]
    before = len(receiver.at(path))
    await wait_for(lambda: len(receiver.at(path)) > before, "range replay")
    assert receiver.at(path)[-1].headers["webhook-id"] == rows[0].webhook_id


async def _in_state(out_db, sub_id: int, state: str):  # type: ignore[no-untyped-def]
    rows = await deliveries_of(out_db, sub_id)
    return rows if rows and all(d.state == state for d in rows) else None


async def test_gone_disables_subscription_and_raises_operator_event(out_server, receiver, out_db) -> None:
    ops_path, gone_path = unique_path(), unique_path()
    ops = subscribe(out_server, receiver.endpoint(ops_path), ["subscription.disabled"])
    receiver.endpoints[ops_path].secrets = [ops["secret"]]
    gone = subscribe(out_server, receiver.endpoint(gone_path), ["voucher.failed"])
    receiver.endpoints[gone_path].default = 410
    await emit_events(out_db, "voucher.failed", [{"voucher": 1}])

    await wait_for(lambda: receiver.at(ops_path), "subscription.disabled event")
    event = json.loads(receiver.at(ops_path)[0].body)
    assert event["type"] == "subscription.disabled"
    assert event["data"]["subscription_id"] == gone["id"]
    assert receiver.at(ops_path)[0].verified
    state = httpx.get(f"{out_server.url}/api/v1/subscriptions/{gone['id']}", headers=out_server.auth).json()
    assert state["enabled"] is False and "410" in state["disabled_reason"]
    assert len(receiver.at(gone_path)) == 1  # 410 is final: no retries
    # further events are not delivered to a disabled subscription
    await emit_events(out_db, "voucher.failed", [{"voucher": 2}])
    assert len(await deliveries_of(out_db, gone["id"])) == 1


async def test_secret_rotation_signs_with_both_during_overlap(out_server, receiver, out_db) -> None:
    path = unique_path()
    sub = subscribe(out_server, receiver.endpoint(path), ["stock.low"])
    old = sub["secret"]
    r = httpx.post(
        f"{out_server.url}/api/v1/subscriptions/{sub['id']}/rotate-secret",
        headers=out_server.auth,
        json={"overlap_seconds": 3600},
    )
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert r.json()["active_secrets"] == 2
    receiver.endpoints[path].secrets = [old]  # a receiver not yet switched still verifies
    await emit_events(out_db, "stock.low", [{"n": 1}])
    await wait_for(lambda: receiver.at(path), "delivery during overlap")
    receiver.endpoints[path].secrets = [new]  # and one already switched too
    await emit_events(out_db, "stock.low", [{"n": 2}])
    await wait_for(lambda: len(receiver.at(path)) >= 2, "second delivery")
    assert [s.verified for s in receiver.at(path)] == [True, True]
    assert len(receiver.at(path)[0].headers["webhook-signature"].split()) == 2


async def test_secrets_never_in_responses_or_logs(out_server, receiver, out_db, caplog) -> None:
    caplog.set_level("DEBUG")
    path = unique_path()
    own = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    r = httpx.post(
        out_server.url + "/api/v1/subscriptions",
        headers=out_server.auth,
        json={"url": receiver.endpoint(path), "event_types": ["*"], "secret": own},
    )
    assert r.status_code == 201
    sub = r.json()
    assert own not in r.text and sub["secret"] is None  # a secret the caller chose is never echoed
    receiver.endpoints[path].secrets = [own]
    await emit_events(out_db, "stock.changed", [{"n": 1}])
    await wait_for(lambda: receiver.at(path), "delivery")
    assert receiver.at(path)[0].verified
    bodies = [
        httpx.get(out_server.url + u, headers=out_server.auth).text
        for u in (
            "/api/v1/subscriptions",
            f"/api/v1/subscriptions/{sub['id']}",
            "/api/v1/audit?limit=500",
            "/api/v1/deliveries",
        )
    ]
    rotated = httpx.post(f"{out_server.url}/api/v1/subscriptions/{sub['id']}/rotate-secret", headers=out_server.auth)
    generated = rotated.json()["secret"]
    bodies.append(httpx.get(out_server.url + "/api/v1/audit?limit=500", headers=out_server.auth).text)
    bodies.append(httpx.get(out_server.url + "/api/v1/subscriptions", headers=out_server.auth).text)
    for text in bodies:
        assert own not in text and own.removeprefix("whsec_") not in text
        assert generated not in text
    assert own not in caplog.text and generated not in caplog.text
    assert out_server.token("admin") not in caplog.text
