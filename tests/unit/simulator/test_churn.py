"""Churn metrics: preemptions per 100 GPU-hours held (by cause), and cycle-to-cycle price changes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import pytest

from fairshare.core.decisions import Admit, Decision, Migrate, Preempt, PreemptCause
from fairshare.core.types import JobPhase, Snapshot
from fairshare.simulator import core_adapter as adapter
from fairshare.simulator.churn import PreemptionRate, PriceSteps, preemption_rate, price_stability
from fairshare.simulator.metrics import summarize
from fairshare.simulator.report import (
    as_json,
    preemptions_markdown,
    price_stability_markdown,
    price_target,
)
from tests.unit.simulator.builders import ScriptedPolicy, make_cluster, make_job, make_result, make_workload, replay

H = 3600.0
NAN = math.nan


@pytest.mark.parametrize(("gpu_seconds", "causes", "want"), [
    pytest.param({"v100": 150 * H, "k80": 50 * H}, {"fair-share": 3, "guarantee": 1},
                 PreemptionRate(4, 200.0, 2.0, {"fair-share": 1.5, "guarantee": 0.5}),
                 id="200 GPU-hours over two classes, two causes"),
    pytest.param({"v100": 10 * H}, {}, PreemptionRate(0, 10.0, 0.0, {}), id="no preemption"),
    pytest.param({"v100": 400 * H}, {"unspecified": 2},
                 PreemptionRate(2, 400.0, 0.5, {"unspecified": 0.5}),
                 id="a Preempt without a cause counts as its policy's, cause as given"),
    pytest.param({"v100": 0.0}, {}, PreemptionRate(0, 0.0, NAN, {}), id="no GPU ever held: no rate"),
])
def test_preemption_rate(gpu_seconds: dict[str, float], causes: dict[str, int], want: PreemptionRate) -> None:
    got = preemption_rate(make_result(gpu_seconds_by_class=gpu_seconds, preemptions_by_cause=causes))
    assert (got.count, got.gpu_hours, dict(got.by_cause)) == (want.count, pytest.approx(want.gpu_hours),
                                                              pytest.approx(dict(want.by_cause)))
    assert got.per_100_gpu_hours == pytest.approx(want.per_100_gpu_hours, nan_ok=True)


@pytest.mark.parametrize(("decision", "want"), [
    pytest.param(Preempt("a/j1", "r", PreemptCause.FAIR_SHARE), [adapter.Stop("a/j1", "r", "fair-share")],
                 id="the cause the core gives"),
    pytest.param(Preempt("a/j1", "r"), [adapter.Stop("a/j1", "r", "guarantee")], id="the Preempt's default cause"),
    pytest.param(Preempt("a/j1", "r", ""), [adapter.Stop("a/j1", "r", "unspecified")], id="an empty cause"),
    pytest.param(Migrate("a/j1", "k80", 1, ("k80-000",), 1.0, "faster"),
                 [adapter.Stop("a/j1", "faster", None), adapter.Start("a/j1", "k80", 1, {"k80-000": 1}, 1.0)],
                 id="a move stops the job without a preemption cause"),
])
def test_actions_carry_the_preemption_cause(decision: Decision, want: list[adapter.Action]) -> None:
    assert adapter.actions([decision], {"a/j1": 1}) == want


def _pending(snapshot: Snapshot, key: str) -> bool:
    return any(j.key == key and j.phase is JobPhase.PENDING for j in snapshot.jobs)


def test_the_replay_counts_applied_preemptions_by_cause_and_not_moves() -> None:
    # a/j1: 30,000 steps = 1,000 s on a V100. b/j1: 10,800 steps on a V100 (360 s) then 2,520 on a K80 (360 s).
    jobs = [make_job("a/j1").steps(30_000).obj(), make_job("b/j1").steps(10_800 + 7 * 360).obj()]

    def script(snapshot: Snapshot, now: float) -> list[Decision]:
        if now == 0:
            return [Admit("a/j1", "v100", 1, ("v100-000",), 1.0), Admit("b/j1", "v100", 1, ("v100-000",), 1.0)]
        if now == 360:
            return [Preempt("a/j1", "test", PreemptCause.FAIR_SHARE),
                    Preempt("zz/j9", "test", PreemptCause.SERVICE),  # refused (no such job): not counted
                    Migrate("b/j1", "k80", 1, ("k80-000",), 1.0)]  # a stop, but not a preemption
        return [Admit("a/j1", "v100", 1, ("v100-000",), 1.0)] if _pending(snapshot, "a/j1") else []

    result = replay(make_workload(*jobs), make_cluster(("v100", 1, 4), ("k80", 1, 4)), ScriptedPolicy(script),
                    tick_s=360.0, restart_s=0.0, max_quiet_ticks=0)
    # a/j1 held a GPU 0..360 and 720..1360 (640 s left); b/j1 0..360 on the V100 and 360..720 on the K80.
    assert [j.finish_s for j in result.jobs] == [pytest.approx(1360.0), pytest.approx(720.0)]
    assert len(result.violations) == 1
    assert result.preemptions_by_cause == {"fair-share": 1}
    summary = summarize(result)
    assert summary.preempt_per_100_gpu_h == pytest.approx(100 * 1 / ((1000 + 720) / H))
    assert summary.preempt_per_100_gpu_h_by_cause == {"fair-share": pytest.approx(100 / (1720 / H))}
    assert summary.preemptions == 2  # the older column counts every stop, the move included


def _prices(*per_cycle: Mapping[str, float]) -> tuple[tuple[float, Mapping[str, float]], ...]:
    return tuple((360.0 * i, p) for i, p in enumerate(per_cycle))


def _steps(changes: int, moved: int, above: tuple[float, float, float], max_change: float) -> PriceSteps:
    return PriceSteps(changes, moved, dict(zip((0.10, 0.25, 0.50), above, strict=True)), max_change)


@pytest.mark.parametrize(("cycle_prices", "want"), [
    pytest.param(_prices({"v100": 1.0}, {"v100": 1.0}, {"v100": 1.0}),
                 {"v100": _steps(2, 0, (0, 0, 0), 0.0), "all": _steps(2, 0, (0, 0, 0), 0.0)},
                 id="steady prices: every pair is a change of 0"),
    pytest.param(_prices(*({"v100": p} for p in (1.0, 1.2, 0.6, 1.0, 1.25, 1.25))),
                 # +20 %, −50 %, +66.7 %, +25 %, 0: exactly 50 % or 25 % is not above it.
                 {"v100": _steps(5, 4, (4 / 5, 2 / 5, 1 / 5), 0.4 / 0.6),
                  "all": _steps(5, 4, (4 / 5, 2 / 5, 1 / 5), 0.4 / 0.6)},
                 id="a mixed walk"),
    pytest.param(_prices({"v100": 2.0}, {"v100": 2.5001}),
                 {"v100": _steps(1, 1, (1, 0, 0), 0.25005), "all": _steps(1, 1, (1, 0, 0), 0.25005)},
                 id="a step at a 25 % damping bound, off by the core's rounding, is not above 25 %"),
    pytest.param(_prices({"v100": 1.0, "k80": 1.0}, {"v100": 2.0}, {"v100": 2.0, "k80": 0.4}),
                 # k80 has no two consecutive prices; v100: +100 %, then 0.
                 {"v100": _steps(2, 1, (0.5, 0.5, 0.5), 1.0), "all": _steps(2, 1, (0.5, 0.5, 0.5), 1.0)},
                 id="a class without a price in one cycle pairs only consecutive cycles"),
    pytest.param(_prices({"v100": 1.0, "k80": 0.5}, {"v100": 1.1, "k80": 0.25}, {"v100": 1.1, "k80": 0.25}),
                 {"k80": _steps(2, 1, (0.5, 0.5, 0), 0.5), "v100": _steps(2, 1, (0, 0, 0), 0.1),
                  "all": _steps(4, 2, (0.25, 0.25, 0), 0.5)},
                 id="two classes, pooled in all"),
    pytest.param(_prices({"v100": 0.0}, {"v100": 0.5}),
                 {"v100": _steps(1, 1, (1, 1, 1), math.inf), "all": _steps(1, 1, (1, 1, 1), math.inf)},
                 id="a rise from 0 is infinite"),
    pytest.param(_prices({}, {}), {}, id="a policy that sets no prices"),
    pytest.param(_prices({"v100": 1.0}), {}, id="one cycle: no pair"),
])
def test_price_stability(cycle_prices: tuple[tuple[float, Mapping[str, float]], ...],
                         want: dict[str, PriceSteps]) -> None:
    got = price_stability(make_result(cycle_prices=cycle_prices))
    assert list(got) == list(want)
    for name, steps in want.items():
        assert (got[name].changes, got[name].moved) == (steps.changes, steps.moved), name
        assert dict(got[name].above) == pytest.approx(dict(steps.above)), name
        assert got[name].max_change == pytest.approx(steps.max_change), name


def test_summary_pools_price_changes_and_judges_the_target() -> None:
    # 100 changes of one class: one of +60 %, one of +30 %, 98 of 0.
    prices = [1.0, 1.6, 2.08] + [2.08] * 98
    summary = summarize(make_result(cycle_prices=_prices(*({"v100": p} for p in prices)), policy="market"))
    assert (summary.price_changes, summary.price_above_10, summary.price_above_25, summary.price_above_50,
            summary.price_change_max) == (100, pytest.approx(0.02), pytest.approx(0.02), pytest.approx(0.01),
                                          pytest.approx(0.6))
    check = price_target(summary)
    assert check.met is True and "1.00% of 100 changes" in check.detail
    worse = summarize(make_result(cycle_prices=_prices(*({"v100": p} for p in prices[:50])), policy="market"))
    assert price_target(worse).met is False  # 1 of 49 above 50 %
    assert price_target(summarize(make_result(policy="market"))).met is None  # no cycles: nothing to judge


def test_reports_list_causes_in_the_cores_order_then_others() -> None:
    summaries = [summarize(make_result(policy="market", gpu_seconds_by_class={"v100": 100 * H},
                                       preemptions_by_cause={"service": 1, "fair-share": 2})),
                 summarize(make_result(policy="fifo", gpu_seconds_by_class={"v100": 200 * H},
                                       preemptions_by_cause={"unspecified": 4}))]
    assert preemptions_markdown(summaries).splitlines() == [
        "| policy | preemptions | per 100 GPU-h | fair-share | service | unspecified |",
        "|---|---:|---:|---:|---:|---:|",
        "| market | 3 | 3.00 | 2 (2.00) | 1 (1.00) | 0 |",
        "| fifo | 4 | 2.00 | 0 | 0 | 4 (2.00) |",
    ]
    assert price_stability_markdown(summaries) == "no policy set prices"


def test_price_stability_table_and_json_without_nan() -> None:
    summary = summarize(make_result(policy="market", cycle_prices=_prices({"v100": 1.0}, {"v100": 1.2})))
    assert price_stability_markdown([summary]).splitlines()[2:] == [
        "| market | v100 | 1 | 1 | 100.00% | 0.00% | 0.00% | 20.00% |",
        "| market | all | 1 | 1 | 100.00% | 0.00% | 0.00% | 20.00% |",
    ]
    text = json.dumps(as_json([summarize(make_result())]), allow_nan=False)  # NaN anywhere would raise
    assert json.loads(text)["policies"][0]["price_stability_by_class"] == {}
