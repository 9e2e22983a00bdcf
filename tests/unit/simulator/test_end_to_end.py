"""Every core policy replays a small synthetic workload to the end without breaking capacity."""

from __future__ import annotations

import random

import pytest

from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import PreemptCause
from fairshare.simulator.churn import ROUNDING_SLACK
from fairshare.simulator.core_adapter import UNSPECIFIED_CAUSE
from fairshare.simulator.metrics import summarize
from fairshare.simulator.policies import POLICIES
from fairshare.simulator.synthetic import SyntheticSpec, generate
from tests.unit.simulator.builders import make_cluster, replay, tiny_matrix

SPEC = SyntheticSpec(jobs=24, tenants=3, jobs_per_hour=30.0, elastic_fraction=0.3, drift_fraction=0.3,
                     max_minutes=240.0)


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_policy_completes_every_job_and_conserves_capacity(policy: str) -> None:
    workload = generate(SPEC, tiny_matrix(), random.Random(7))
    cluster = make_cluster(("v100", 2, 4), ("k80", 2, 4))
    result = replay(workload, cluster, POLICIES[policy], tick_s=120.0, restart_s=30.0)
    assert result.violations == ()
    assert all(j.finish_s is not None for j in result.jobs), "every job finishes"
    capacity = cluster.capacity()
    for sample in result.timeline:
        assert all(0 <= sample.held_by_class[c] <= capacity[c] for c in capacity), sample
        assert sum(sample.held_by_tenant.values()) == sum(sample.held_by_class.values())
    summary = summarize(result)
    assert summary.finished == len(workload.jobs) == 24
    assert 0 < summary.utilisation <= 1
    assert summary.max_rho > 0
    # Preemptions are counted from Preempt decisions, by the cause the policy gave; every one also stopped a job.
    assert set(result.preemptions_by_cause) <= {*PreemptCause.ALL, UNSPECIFIED_CAUSE}
    assert sum(result.preemptions_by_cause.values()) <= summary.preemptions
    assert summary.price_changes == 2 * (result.cycles - 1)  # two classes priced at every cycle


def test_the_markets_damped_prices_step_from_the_carried_price() -> None:
    # Damping reads the last cycle's price from the snapshot: were it not carried, a price could jump further.
    workload = generate(SPEC, tiny_matrix(), random.Random(7))
    result = replay(workload, make_cluster(("v100", 2, 4), ("k80", 2, 4)), POLICIES["market"], tick_s=120.0)
    summary = summarize(result)
    assert summary.price_changes > 0
    assert summary.price_change_max <= PolicyConfig().price_max_step + ROUNDING_SLACK


def test_skipping_quiet_ticks_changes_nothing_for_a_time_blind_policy() -> None:
    workload = generate(SPEC, tiny_matrix(), random.Random(3))
    cluster = make_cluster(("v100", 2, 4), ("k80", 2, 4))
    every = replay(workload, cluster, POLICIES["fifo"], tick_s=120.0, max_quiet_ticks=0)
    skipping = replay(workload, cluster, POLICIES["fifo"], tick_s=120.0, max_quiet_ticks=20)
    assert [j.finish_s for j in skipping.jobs] == [j.finish_s for j in every.jobs]
    assert skipping.cycles < every.cycles
