"""JdConnector: the acceptance kit against the JD sandbox, the poll cursor under live edits and
restarts, and access-token refresh."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any

import httpx
import pytest

from connectors.base import AuthError, InstanceConfig, NotSupported, PushedEvent, RetryPolicy, TokenExpired
from connectors.jd import JdConnector
from connectors.jd.sandbox import create_app
from connectors.testing.acceptance import ConnectorAcceptanceSuite
from tests.connectors.support import Clock, clocked_sandbox

KEY, SECRET, TOKEN = "jd-kit-key", "jd-kit-secret", "jd-kit-token"
FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, max_retry_after=0.02)


class TestJdAcceptance(ConnectorAcceptanceSuite):
    connector_class = JdConnector
    sandbox_kwargs = {
        "app_key": KEY,
        "app_secret": SECRET,
        "access_token": TOKEN,
        "rate_limit_per_second": 1000,
        "rate_limit_burst": 1000,
    }

    def make_config(self, base_url: str, stock: Mapping[str, Any]) -> InstanceConfig:
        return InstanceConfig(
            name="jd-kit",
            platform="jd",
            base_url=base_url,
            credentials={"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN},
            listings={sku: {"sku_id": row["skuId"]} for sku, row in stock.items()},
        )

    def resign(self, headers: Mapping[str, str], body: bytes, config: InstanceConfig) -> dict[str, str]:
        raise NotImplementedError("JD cannot push")

    def record_id(self, event: PushedEvent) -> str:
        return str(event.payload["orderId"])

    def sandbox_available(self, stock: Mapping[str, Any], sku: str) -> int:
        return int(stock[sku]["stockNum"])

    def is_page_request(self, entry: Mapping[str, Any]) -> bool:
        return bool(entry["path"] == "/routerjson")  # JD's gateway takes POST


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def base(clock: Clock) -> Iterator[str]:
    with clocked_sandbox(create_app, clock, app_key=KEY, app_secret=SECRET, access_token=TOKEN) as url:
        yield url


def config(base: str, **settings: Any) -> InstanceConfig:
    return InstanceConfig(
        name="jd-test",
        platform="jd",
        base_url=base,
        credentials={"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN},
        settings={"page_size": 3, "poll_overlap_seconds": 60, **settings},
        listings={"SKU-A": {"sku_id": 100001}, "SKU-B": {"sku_id": 100002}},
    )


def event(base: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/_sandbox/events", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_cursor_survives_a_restart_while_orders_are_modified_mid_read(base: str, clock: Clock) -> None:
    """Offset paging would skip an order here: order 2 leaves the window after page 1 is read, so
    every later order slides up one place. Keyset pages must still see each version exactly once."""
    orders = []
    for _ in range(9):
        orders.append(event(base, type="order", sku="SKU-B", qty=1)["order_id"])
        clock.t += 1
    clock.t += 5
    seen: list[PushedEvent] = []
    first = JdConnector(config(base), clock=clock, retry=FAST)
    page = await first.poll("orders", None)
    seen.extend(page.events)
    await first.aclose()  # "crash" after the first page
    assert [e.payload["orderId"] for e in page.events] == orders[:3]

    clock.t += 1  # during the read: an order already read and one not yet read are edited, one is new
    event(base, type="modify", order_id=orders[1], remark="address changed")
    event(base, type="cancel", order_id=orders[4])
    late = event(base, type="order", sku="SKU-B", qty=1)["order_id"]

    second = JdConnector(config(base), clock=clock, retry=FAST)
    cursor = page.next_cursor
    for _ in range(20):
        page = await second.poll("orders", cursor)
        seen.extend(page.events)
        cursor = page.next_cursor
        if not page.has_more:
            break
    clock.t += 2
    for _ in range(20):  # the next window
        page = await second.poll("orders", cursor)
        seen.extend(page.events)
        cursor = page.next_cursor
        if not page.has_more:
            break
    await second.aclose()

    ids = [e.event_id for e in seen]
    assert len(ids) == len(set(ids)), f"an order version was emitted twice: {ids}"
    assert {e.payload["orderId"] for e in seen} == {*orders, late}, "an order was missed"
    latest = {e.payload["orderId"]: e.payload for e in seen}
    assert latest[orders[4]]["orderState"] == "TRADE_CANCELED"
    assert latest[orders[1]]["orderRemark"] == "address changed"
    versions = [e.payload["orderId"] for e in seen]
    assert versions.count(orders[1]) == 2 and versions.count(orders[4]) == 1  # 4 was only ever read edited


async def test_first_poll_far_behind_is_cut_into_month_windows(base: str, clock: Clock) -> None:
    from datetime import datetime, timedelta

    from connectors.base import PollCursor

    old = PollCursor(since=datetime.fromtimestamp(clock.t, UTC) - timedelta(days=90)).dumps()
    connector = JdConnector(config(base), clock=clock, retry=FAST)
    page = await connector.poll("orders", old)
    await connector.aclose()
    state = PollCursor.loads(page.next_cursor)
    assert state.since is not None and state.since - (
        datetime.fromtimestamp(clock.t, UTC) - timedelta(days=90)
    ) < timedelta(days=31)
    log = httpx.get(f"{base}/_sandbox/log").json()["requests"]
    assert log[-1]["status"] == 200


async def test_expired_token_is_refreshed_once_and_the_call_retried(base: str, clock: Clock) -> None:
    tokens = httpx.get(f"{base}/_sandbox/token").json()
    saved: list[Mapping[str, Any]] = []
    cfg = config(base)
    cfg = InstanceConfig(
        name=cfg.name,
        platform="jd",
        base_url=base,
        listings=cfg.listings,
        settings=cfg.settings,
        credentials={**cfg.credentials, "refresh_token": tokens["refresh_token"]},
    )
    connector = JdConnector(cfg, clock=clock, retry=FAST, on_tokens=saved.append)
    event(base, type="expire_tokens")
    assert (await connector.read_stock(["SKU-A"]))["SKU-A"] == 100
    assert saved and saved[0]["access_token"] != TOKEN
    event(base, type="expire_tokens")
    assert (await connector.read_stock(["SKU-A"]))["SKU-A"] == 100  # the rotated refresh token works again
    assert len(saved) == 2
    await connector.aclose()
    stale = JdConnector(cfg, clock=clock, retry=FAST)  # still holds the first, spent refresh token
    event(base, type="expire_tokens")
    with pytest.raises(AuthError, match="re-authorise"):
        await stale.read_stock(["SKU-A"])
    await stale.aclose()


async def test_without_a_refresh_token_an_expired_token_is_a_token_error(base: str, clock: Clock) -> None:
    connector = JdConnector(config(base), clock=clock, retry=FAST)
    event(base, type="expire_tokens")
    with pytest.raises(TokenExpired):
        await connector.read_stock(["SKU-A"])
    await connector.aclose()


async def test_delta_and_compare_writes_are_not_supported(base: str, clock: Clock) -> None:
    connector = JdConnector(config(base), clock=clock, retry=FAST)
    with pytest.raises(NotSupported):
        await connector.write_stock("SKU-A", None, delta=2, idempotency_key="k")
    with pytest.raises(NotSupported):
        await connector.write_stock("SKU-A", 5, compare_to=3, idempotency_key="k")
    await connector.aclose()
