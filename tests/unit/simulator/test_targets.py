"""The benchmark targets against Gavel (report.check_targets), as named cases."""

from __future__ import annotations

import pytest

from fairshare.simulator.metrics import PolicySummary
from fairshare.simulator.report import check_targets

GAVEL_TARGET = "avg JCT ≥ 10% below Gavel's, share MAE and max ρ no worse than Gavel-hierarchical's"


def summary(policy: str, jct: float, rho: float, mae: float) -> PolicySummary:
    return PolicySummary(policy=policy, jobs=1, finished=1, avg_jct_h=jct, p99_jct_h=jct, makespan_h=jct,
                         max_rho=rho, p99_rho=rho, share_rho_above_1=0.0, share_mae=mae, share_p95=mae,
                         share_tail=mae, jain=1.0, utilisation=0.5, credits=0.0, energy_kwh=0.0, preemptions=0,
                         preempt_per_100_gpu_h=0.0, price_changes=0, price_above_10=0.0, price_above_25=0.0,
                         price_above_50=0.0, price_change_max=0.0, cycles=1, wall_s=1.0, scheduler_wall_s=1.0,
                         violations=0)


GAVEL = summary("gavel", 100.0, 50.0, 0.01)
HIERARCHICAL = summary("gavel-hierarchical", 120.0, 40.0, 0.001)


@pytest.mark.parametrize(("market", "others", "want"), [
    pytest.param(summary("market", 89.0, 40.0, 0.001), [GAVEL, HIERARCHICAL], True,
                 id="11% below Gavel at Gavel-hierarchical's fairness: met"),
    pytest.param(summary("market", 95.0, 40.0, 0.001), [GAVEL, HIERARCHICAL], False,
                 id="only 5% below Gavel: not met"),
    pytest.param(summary("market", 80.0, 45.0, 0.001), [GAVEL, HIERARCHICAL], False,
                 id="faster but a larger max rho than Gavel-hierarchical: not met"),
    pytest.param(summary("market", 80.0, 40.0, 0.002), [GAVEL, HIERARCHICAL], False,
                 id="faster but a larger share error than Gavel-hierarchical: not met"),
    pytest.param(summary("market", 80.0, 40.0, 0.001), [GAVEL], None,
                 id="without Gavel-hierarchical: not run"),
])
def test_gavel_target(market: PolicySummary, others: list[PolicySummary], want: bool | None) -> None:
    [check] = [c for c in check_targets([market, *others]) if c.target == GAVEL_TARGET]
    assert check.met is want
