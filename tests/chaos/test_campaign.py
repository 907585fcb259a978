"""The fault campaign in ``make test``: a short run of CI seeds over the real stack (two API processes, two
arq workers, PostgreSQL, Redis, Shopify and Douyin sandboxes, a Kingdee ERP and an outbound-webhook subscriber
per seed), and the planted-bug test that proves the campaign catches a double-applying retry and replays the
failing seed to the same violation.

Each seed's workload and fault schedule come from ``random.Random(seed)``; the counts are printed
(``pytest -s``) so every fault kind can be seen to have happened.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from bench.chaos.__main__ import table
from bench.chaos.campaign import SeedResult, run_campaign
from bench.chaos.workload import DELIVERY_KINDS, FAULT_KINDS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CI_SEEDS = list(range(int(os.environ.get("CHAOS_CI_SEEDS", "8"))))
SECONDS = float(os.environ.get("CHAOS_CI_SECONDS", "2.5"))
PG_FAULT = os.environ.get("CHAOS_PG_FAULT", "restart")
PLANT_SEEDS = [0, 1, 2]


def run(seeds: list[int], **kw: object) -> list[SeedResult]:
    return asyncio.run(run_campaign(seeds, seconds=SECONDS, pg_fault=PG_FAULT, redis_db=12, **kw))  # type: ignore[arg-type]


def test_ci_seeds_keep_every_promise_under_every_fault_kind() -> None:
    results = run(CI_SEEDS)
    print("\n" + table(results))
    seen = {k for r in results for k, n in r.faults.items() if n}
    assert set(FAULT_KINDS) | set(DELIVERY_KINDS) <= seen, f"fault kinds never injected: {set(FAULT_KINDS) - seen}"
    assert sum(r.events for r in results) > 0
    assert [v for r in results for v in r.violations] == []


def _ledger_lines(result: SeedResult) -> list[str]:
    """The receipts the hub holds against the model's (supplier account): fixed by the seed alone."""
    return sorted(v for v in result.violations if v.startswith("ledger differs from model") and " supplier:" in v)


def test_a_planted_double_apply_on_retry_is_caught_and_its_seed_replays_to_the_same_violation() -> None:
    caught = run(PLANT_SEEDS, plant="double_apply")
    failing = [r for r in caught if _ledger_lines(r)]
    print("\n" + table(caught))
    assert failing, "the campaign did not catch a purchase applied twice on retry"
    first = failing[0]
    [replayed] = run([first.seed], plant="double_apply")
    assert _ledger_lines(replayed) == _ledger_lines(first)
