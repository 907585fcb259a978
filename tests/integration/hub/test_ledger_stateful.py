"""Hypothesis drives random receive / reserve / ship / cancel / transfer / adjust sequences, with replays
of earlier keys in any order, against the real database, and checks every ledger invariant against a
plain-dict model after each step."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hub.domain.errors import Conflict
from hub.domain.ledger import make_movement
from hub.services import ledger, reservations
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker

LOCS = ["W1", "W2"]
GUARDED = ["free"]


class LedgerMachine(RuleBasedStateMachine):
    db_settings: Settings

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = make_engine(self.db_settings)
        self.sm = make_sessionmaker(self.engine)
        self.sku = f"H-{uuid.uuid4().hex[:10]}"
        self.model: dict[str, int] = defaultdict(int)
        self.done: list[tuple[str, Any]] = []  # every operation that was applied, for replays
        self.held: dict[str, tuple[str, int]] = {}  # reservation key -> (loc, qty)
        self.closed: dict[str, str] = {}  # reservation key -> final status
        self.n = 0

    def teardown(self) -> None:
        self.loop.run_until_complete(self.engine.dispose())
        self.loop.close()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def key(self) -> str:
        self.n += 1
        return f"{self.sku}-{self.n}"

    async def _apply(self, batch: list[tuple[str, int, str, str, str]]) -> list[str]:
        movements = [make_movement(key=k, sku=self.sku, qty=q, source=a, target=b, kind=kind)
                     for k, q, a, b, kind in batch]  # fmt: skip
        async with self.sm() as session, session.begin():
            return [r.status for r in await ledger.apply_movements(session, movements, guarded_buckets=GUARDED)]

    def apply(self, batch: list[tuple[str, int, str, str, str]]) -> bool:
        """Apply to the database; mirror into the model only if the model says it must succeed."""
        trial = dict(self.model)
        for _, q, a, b, _ in batch:
            trial[a] = trial.get(a, 0) - q
            trial[b] = trial.get(b, 0) + q
        fits = all(v >= 0 for acc, v in trial.items() if acc.endswith("/free"))
        try:
            statuses = self.run(self._apply(batch))
        except Conflict:
            assert not fits, f"refused a batch the model accepts: {batch}"
            return False
        assert fits, f"accepted a batch that overdraws: {batch}"
        assert statuses == ["applied"] * len(batch)
        self.model.update(trial)
        self.done.append(("batch", batch))
        return True

    @initialize(qty=st.integers(0, 20))
    def start(self, qty: int) -> None:
        if qty:
            self.apply([(self.key(), qty, "supplier", "W1/free", "receive")])

    @rule(loc=st.sampled_from(LOCS), qty=st.integers(1, 10))
    def receive(self, loc: str, qty: int) -> None:
        self.apply([(self.key(), qty, "supplier", f"{loc}/free", "receive")])

    @rule(loc=st.sampled_from(LOCS), qty=st.integers(1, 10), gain=st.booleans())
    def adjust(self, loc: str, qty: int, gain: bool) -> None:
        a, b = ("adjustment", f"{loc}/free") if gain else (f"{loc}/free", "adjustment")
        self.apply([(self.key(), qty, a, b, "adjust")])

    @rule(qty=st.integers(1, 10), src=st.sampled_from(LOCS))
    def transfer(self, qty: int, src: str) -> None:
        dst = "W2" if src == "W1" else "W1"
        k = self.key()
        self.apply([(f"{k}-out", qty, f"{src}/free", "transit", "transfer_out"),
                    (f"{k}-in", qty, "transit", f"{dst}/free", "transfer_in")])  # fmt: skip

    @rule(loc=st.sampled_from(LOCS), qty=st.integers(1, 8))
    def reserve(self, loc: str, qty: int) -> None:
        key = self.key()

        async def go() -> None:
            async with self.sm() as session, session.begin():
                await reservations.reserve(session, key=key, sku=self.sku, location=loc, qty=qty,
                                           guarded_buckets=GUARDED)  # fmt: skip

        fits = self.model[f"{loc}/free"] >= qty
        try:
            self.run(go())
        except Conflict:
            assert not fits
            return
        assert fits
        self.model[f"{loc}/free"] -= qty
        self.model[f"{loc}/reserved"] += qty
        self.held[key] = (loc, qty)
        self.done.append(("reserve", (key, loc, qty)))

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), phase=st.sampled_from(["ship", "cancel"]))
    def settle(self, data: st.DataObject, phase: str) -> None:
        key = data.draw(st.sampled_from(sorted(self.held)))
        loc, qty = self.held.pop(key)

        async def go() -> str:
            async with self.sm() as session, session.begin():
                return (await reservations.settle(session, key, phase, guarded_buckets=GUARDED)).status

        assert self.run(go()) == "applied"
        self.model[f"{loc}/reserved"] -= qty
        self.model["customer" if phase == "ship" else f"{loc}/free"] += qty
        self.closed[key] = phase
        self.done.append(("settle", (key, phase)))

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def replay_an_earlier_operation(self, data: st.DataObject) -> None:
        """Duplicated and reordered delivery: repeating any earlier operation changes nothing."""
        op, args = data.draw(st.sampled_from(self.done))

        async def go() -> list[str]:
            async with self.sm() as session, session.begin():
                if op == "batch":
                    movements = [make_movement(key=k, sku=self.sku, qty=q, source=a, target=b, kind=kind)
                                 for k, q, a, b, kind in args]  # fmt: skip
                    return [r.status for r in await ledger.apply_movements(session, movements, guarded_buckets=GUARDED)]
                if op == "reserve":
                    key, loc, qty = args
                    r = await reservations.reserve(session, key=key, sku=self.sku, location=loc, qty=qty,
                                                   guarded_buckets=GUARDED)  # fmt: skip
                    return [r.status]
                key, phase = args
                return [(await reservations.settle(session, key, phase, guarded_buckets=GUARDED)).status]

        assert set(self.run(go())) == {"duplicate"}

    @invariant()
    def database_matches_model(self) -> None:
        async def read() -> dict[str, tuple[int, int]]:
            async with self.sm() as session:
                return {b.account: (b.qty, b.version) for b in await ledger.balances(session, self.sku)}

        db = self.run(read())
        assert {a: q for a, (q, _) in db.items() if q} == {a: q for a, q in self.model.items() if q}
        assert sum(q for q, _ in db.values()) == 0, "balances of a sku must sum to zero"
        assert all(q >= 0 for a, (q, _) in db.items() if a.endswith("/free")), "free went negative"
        assert all(v >= 1 for _, v in db.values())


def _run(db_settings: Settings) -> None:
    machine = type("Machine", (LedgerMachine,), {"db_settings": db_settings})
    test = machine.TestCase
    test.settings = settings(max_examples=25, stateful_step_count=25, deadline=None,
                             suppress_health_check=list(HealthCheck))  # fmt: skip
    test("runTest").runTest()


def test_ledger_invariants_hold_under_random_sequences_with_replays(any_settings: Settings) -> None:
    _run(any_settings)
