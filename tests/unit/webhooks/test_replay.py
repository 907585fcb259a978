from __future__ import annotations

from webhooks.inbound.replay import InMemoryReplayGuard, ReplayGuard


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_second_sighting_is_a_replay_and_sources_are_separate() -> None:
    guard = InMemoryReplayGuard()
    assert isinstance(guard, ReplayGuard)
    assert await guard.seen("shopify", "e1") is False
    assert await guard.seen("shopify", "e1") is True
    assert await guard.seen("taobao", "e1") is False


async def test_lru_forgets_the_least_recently_seen_when_full() -> None:
    guard = InMemoryReplayGuard(max_entries=2)
    await guard.seen("s", "a")
    await guard.seen("s", "b")
    assert await guard.seen("s", "a") is True  # a is now most recent
    await guard.seen("s", "c")  # evicts b
    assert len(guard) == 2
    assert await guard.seen("s", "b") is False
    assert await guard.seen("s", "c") is True


async def test_entries_expire_after_ttl() -> None:
    clock = Clock()
    guard = InMemoryReplayGuard(ttl_seconds=300, clock=clock)
    await guard.seen("s", "a")
    clock.now = 299
    assert await guard.seen("s", "a") is True
    clock.now = 299 + 300
    assert await guard.seen("s", "a") is False
