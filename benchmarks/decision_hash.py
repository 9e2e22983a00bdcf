"""Check: the SHA-256 of every decision and price the core gives on seeded clusters, to prove a refactor changes none.

    PYTHONPATH=operator .venv/bin/python benchmarks/decision_hash.py            # 1k/30, 15k/30 and 60k/2,000
    PYTHONPATH=operator .venv/bin/python benchmarks/decision_hash.py --skip-60k # the two small cases only

Each case is the seeded snapshot of benchmarks/core_cycle.py (same seed, same sizes), scheduled once at the same
time with the default PolicyConfig. Every part of the result except the step durations is hashed: the decisions
in order (each as its repr: kind, job, class, workers, nodes, price, reason, position, code), the class prices,
fair shares, budgets, charges, share ratios and wake time. Floats are written with repr, so a hash changes with
the last bit of any number. Run it before and after a change; the lines must be equal.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Iterable

from core_cycle import Case, build

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import CycleResult

SIZES = {1_000: (3, 250), 15_000: (5, 2_500), 60_000: (8, 10_000)}  # pending -> (classes, nodes), as core_cycle.py
CASES = [(1_000, 30), (15_000, 30), (60_000, 2_000)]
NOW = 10_000.0


def _digest(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return h.hexdigest()


def hashes(result: CycleResult) -> dict[str, str]:
    """Part name -> SHA-256 of that part of one cycle's result (step durations excluded: they are timings)."""
    parts = {
        "decisions": _digest(repr(d) for d in result.decisions),
        "prices": _digest(f"{k}={v!r}" for k, v in sorted(result.prices.items())),
        "fair_shares": _digest(f"{t}/{c}={v!r}" for t, row in sorted(result.fair_shares.items())
                               for c, v in sorted(row.items())),
        "budgets": _digest(f"{k}={v!r}" for k, v in sorted(result.budgets.items())),
        "charges": _digest(f"{k}={v!r}" for k, v in sorted(result.charges.items())),
        "share_ratios": _digest(f"{k}={v!r}" for k, v in sorted(result.share_ratios.items())),
        "wake_at": _digest([repr(result.wake_at)]),
    }
    parts["all"] = _digest(f"{k}:{v}" for k, v in parts.items())
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-60k", action="store_true", help="only 1k/30 and 15k/30 (60k/2,000 takes minutes)")
    args = parser.parse_args()
    import fairshare.core
    built = "mypyc-compiled core" if fairshare.core.COMPILED_FROM else "core as Python"
    print(f"# {built}")
    for pending, tenants in CASES:
        if args.skip_60k and pending == 60_000:
            continue
        started = time.perf_counter()
        snapshot = build(Case(pending, tenants, *SIZES[pending]))
        result = schedule(snapshot, NOW, PolicyConfig())
        parts = hashes(result)
        seconds = time.perf_counter() - started
        print(f"{pending}/{tenants} all {parts['all']}  ({len(result.decisions)} decisions, {seconds:.0f} s)")
        for name, value in parts.items():
            if name != "all":
                print(f"{pending}/{tenants}   {name} {value}")


if __name__ == "__main__":
    main()
