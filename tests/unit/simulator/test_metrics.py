"""Metrics maths: Jain's index, weighted max-min entitlement, Themis ρ, percentiles, CDF, share error, energy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairshare.simulator.fairness import finish_time_fairness, isolated_rate, jain_index, tenant_slice, water_fill
from fairshare.simulator.metrics import cdf, percentile, share_error, summarize
from fairshare.simulator.results import RunResult, Sample
from tests.unit.simulator.builders import (
    ScriptedPolicy,
    admit_pending_on,
    make_cluster,
    make_job,
    make_workload,
    replay,
)


@pytest.mark.parametrize(("values", "want"), [
    pytest.param([1.0, 1.0, 1.0, 1.0], 1.0, id="equal shares"),
    pytest.param([2.5, 2.5], 1.0, id="equal, not one"),
    pytest.param([1.0, 0.0, 0.0, 0.0], 0.25, id="one takes everything: 1/n"),
    pytest.param([1.0, 3.0], 0.8, id="1 and 3"),
    pytest.param([], 1.0, id="nobody"),
])
def test_jain_index(values: list[float], want: float) -> None:
    assert jain_index(values) == pytest.approx(want)


@pytest.mark.parametrize(("total", "demands", "weights", "want"), [
    pytest.param(12, {"a": 100, "b": 100}, {"a": 1, "b": 1}, {"a": 6, "b": 6}, id="equal weights split evenly"),
    pytest.param(12, {"a": 2, "b": 100}, {"a": 1, "b": 1}, {"a": 2, "b": 10}, id="capped demand frees the rest"),
    pytest.param(12, {"a": 100, "b": 100}, {"a": 2, "b": 1}, {"a": 8, "b": 4}, id="weights 2:1"),
    pytest.param(12, {"a": 0, "b": 5}, {"a": 1, "b": 1}, {"a": 0, "b": 5}, id="no demand, no share"),
])
def test_water_fill(total: float, demands: dict[str, float], weights: dict[str, float],
                    want: dict[str, float]) -> None:
    assert water_fill(total, demands, weights) == pytest.approx(want)


@pytest.mark.parametrize(("gang", "slice_gpus", "want"), [
    pytest.param(1, {"v100": 2.0, "k80": 2.0}, 30.0, id="fits on the fastest class"),
    pytest.param(4, {"v100": 2.0, "k80": 2.0}, 0.5 * 100 + 0.5 * 20, id="time-shares both classes"),
    pytest.param(4, {"v100": 1.0, "k80": 0.0}, 0.25 * 100, id="a quarter of the time on one class"),
])
def test_isolated_rate_fills_the_fastest_class_first(gang: int, slice_gpus: dict[str, float], want: float) -> None:
    rates = {("v100", 1): 30.0, ("k80", 1): 7.0, ("v100", 4): 100.0, ("k80", 4): 20.0}
    assert isolated_rate(gang, slice_gpus, lambda c, g: rates[(c, g)]) == pytest.approx(want)


def test_rho_of_a_job_alone_on_its_tenants_slice_is_one() -> None:
    # One tenant owns the whole cluster (1 V100), so its slice is the cluster: the shared run is the isolated one.
    job = make_job("a/j1").steps(3000).obj()
    result = replay(make_workload(job), make_cluster(("v100", 1, 1)),
                    ScriptedPolicy(admit_pending_on("v100", {"v100-000": 1})))
    outcome = result.jobs[0]
    assert outcome.isolated_s == pytest.approx(100.0)
    assert finish_time_fairness(outcome.jct_s, outcome.isolated_s) == pytest.approx(1.0)
    assert summarize(result).max_rho == pytest.approx(1.0)


def test_tenant_slice_is_weighted() -> None:
    assert tenant_slice({"v100": 36, "k80": 12}, {"a": 2.0, "b": 1.0}, "a") == {"v100": 24.0, "k80": 8.0}


@pytest.mark.parametrize(("values", "q", "want"), [
    pytest.param([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0, id="median"),
    pytest.param([1.0, 2.0], 99, 1.99, id="interpolates"),
    pytest.param([7.0], 99, 7.0, id="one value"),
])
def test_percentile(values: list[float], q: float, want: float) -> None:
    assert percentile(values, q) == pytest.approx(want)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 99))


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
def test_cdf_is_monotone_and_ends_at_one(values: list[float]) -> None:
    points = cdf(values)
    assert all(a[0] <= b[0] and a[1] < b[1] for a, b in zip(points, points[1:], strict=False))
    assert points[-1][1] == 1.0 and len(points) == len(values)


def _result(timeline: tuple[Sample, ...], end_s: float) -> RunResult:
    return RunResult(policy="p", capacity={"v100": 8}, weights={"a": 1.0, "b": 1.0}, jobs=(), timeline=timeline,
                     end_s=end_s, gpu_seconds_by_class={}, restart_gpu_seconds=0.0, credits_by_tenant={},
                     energy_joules=0.0, cycles=0, scheduler_wall_s=0.0, wall_s=0.0, violations=())


@pytest.mark.parametrize(("held", "mae", "jain"), [
    pytest.param({"a": 4, "b": 4}, 0.0, 1.0, id="exactly the entitlement"),
    pytest.param({"a": 8}, 0.5, 0.5, id="one tenant holds everything"),
    pytest.param({"a": 6, "b": 2}, 0.25, 0.8, id="6 and 2 of 8"),
])
def test_share_error_against_weighted_max_min(held: dict[str, int], mae: float, jain: float) -> None:
    sample = Sample(0.0, {"v100": sum(held.values())}, held, {"a": 8, "b": 8}, {})
    got = share_error(_result((sample,), 10.0))
    assert (got.mean_abs_error, got.jain) == pytest.approx((mae, jain))


def test_energy_and_credits_follow_gpu_hours() -> None:
    job = make_job("a/j1").steps(30 * 3600).obj()  # one hour on one V100 (300 W, 3.06 credits/h here: price 1.0)
    result = replay(make_workload(job), make_cluster(("v100", 1, 1)),
                    ScriptedPolicy(admit_pending_on("v100", {"v100-000": 1})))
    summary = summarize(result)
    assert summary.energy_kwh == pytest.approx(0.3)
    assert summary.credits == pytest.approx(1.0)  # the scripted admission's price
    assert summary.utilisation == pytest.approx(1.0)


def test_tenant_jct_table_lists_tenants_by_job_count() -> None:
    from fairshare.simulator.report import tenant_jct_table

    jobs = [make_job("a/j1").steps(3000).obj(), make_job("b/j1").steps(3000).obj(), make_job("b/j2").steps(3000).obj()]
    result = replay(make_workload(*jobs), make_cluster(("v100", 1, 4)),
                    ScriptedPolicy(admit_pending_on("v100", {"v100-000": 4})))
    lines = tenant_jct_table([result]).splitlines()
    assert lines[0] == "| tenant | jobs | mean T_isolated h | scripted JCT h |"
    assert [line.split(" | ")[0:2] for line in lines[2:]] == [["| b", "2"], ["| a", "1"]]
