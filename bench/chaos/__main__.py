"""``python -m bench.chaos [--seeds N | --seed N] [--seconds S]``: run a fault campaign, print its table.

Exit status 1 when any invariant was violated (the failing seeds are printed, replay with ``--seed``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Sequence

from bench.chaos.campaign import SeedResult, run_campaign
from bench.chaos.workload import DELIVERY_KINDS, FAULT_KINDS


def table(results: Sequence[SeedResult]) -> str:
    faults: Counter[str] = Counter()
    for r in results:
        faults.update(r.faults)
    recoveries = [(kind, s, r.seed) for r in results for kind, s in r.recoveries]
    slowest = max(recoveries, key=lambda x: x[1], default=None)
    violations = sum(len(r.violations) for r in results)
    rows = [("seeds run", str(len(results))),
            ("events (purchase requests + webhook deliveries)", str(sum(r.events for r in results)))]
    rows += [(f"faults: {k}", str(faults.get(k, 0))) for k in (*FAULT_KINDS, *DELIVERY_KINDS)]
    checked: Counter[str] = Counter()
    for r in results:
        checked.update(r.checked)
    rows += [(k, str(v)) for k, v in sorted(checked.items())]
    rows += [("kills recovered", str(len(recoveries))),
             ("slowest recovery after a kill", f"{slowest[1]:.2f} s ({slowest[0]}, seed {slowest[2]})" if slowest else "-"),
             ("invariant violations", str(violations)),
             ("failing seeds", ", ".join(str(r.seed) for r in results if r.violations) or "none"),
             ("wall time", f"{sum(r.seconds for r in results):.0f} s")]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'':<{width}} | value |".replace("value", "value"), f"|{'-' * (width + 2)}|-------|"]
    lines = [f"| {'fault campaign':<{width}} | |", f"|{'-' * (width + 2)}|---|"]
    lines += [f"| {k:<{width}} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--seeds", type=int, default=5, help="run seeds 0..N-1 (default 5)")
    which.add_argument("--seed", type=int, help="replay this one seed")
    parser.add_argument("--first", type=int, default=0, help="first seed of --seeds (default 0)")
    parser.add_argument("--seconds", type=float, default=4.0, help="workload length per seed (sets its step count)")
    parser.add_argument("--pg-fault", choices=("restart", "terminate"), default="restart",
                        help="PostgreSQL fault: restart the cluster, or terminate the hub's backends only")
    parser.add_argument("--redis-db", type=int, default=11, help="dedicated Redis db index (FLUSHDB'd)")
    parser.add_argument("--plant", default=None, help="planted bug for the campaign's own test (tests/chaos/plants)")
    parser.add_argument("--keep", action="store_true", help="keep the database and process logs afterwards")
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.seeds))
    results = asyncio.run(run_campaign(seeds, seconds=args.seconds, plant=args.plant, pg_fault=args.pg_fault,
                                       redis_db=args.redis_db, keep=args.keep))  # fmt: skip
    print(table(results))
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
