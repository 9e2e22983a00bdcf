"""Tenant share error over time: the grid series, its time-weighted mean and p95, and the run's last part.

Every case is one 10-GPU class and two tenants of weight 1 that both want all 10 GPUs, so each is entitled to 5 and
the error is (|held_a − 5| + |held_b − 5|) / (2 × 10): 10/0 → 0.5, 9/1 → 0.4, 6/4 → 0.1, 5/5 → 0.
"""

from __future__ import annotations

import pytest

from fairshare.simulator.metrics import (
    ShareErrorOverTime,
    series_step_h,
    share_error,
    share_error_over_time,
    summarize,
    weighted_quantile,
)
from fairshare.simulator.results import Sample
from tests.unit.simulator.builders import make_result

H = 3600.0


def at(hours: float, held_a: int, held_b: int, demand: int = 10) -> Sample:
    """A sample at `hours`: a and b hold these GPUs; both demand `demand` (0: nobody wants any)."""
    held = {t: n for t, n in (("a", held_a), ("b", held_b)) if n}
    wants = {"a": demand, "b": demand} if demand else {}
    return Sample(hours * H, {"v100": held_a + held_b}, held, wants, {})


@pytest.mark.parametrize(("timeline", "end_h", "step_h", "want"), [
    pytest.param([at(0, 10, 0), at(1, 5, 5), at(3, 6, 4)], 4, 2.0,
                 # 0.5 for 1 h, 0 for 2 h, 0.1 for 1 h. Buckets [0, 2): (0.5 + 0) / 2; [2, 4): (0 + 0.1) / 2.
                 # p95: the error is ≤ 0 for 2 of 4 h, ≤ 0.1 for 3 h, ≤ 0.5 for all 4 h. Last tenth: 3.6..4 h, 0.1.
                 ShareErrorOverTime(mean=0.15, p95=0.5, tail=0.1, step_h=2.0,
                                    points=((0.0, 0.25), (2.0, 0.05))),
                 id="three stretches, two grid steps"),
    pytest.param([at(0, 10, 0), at(1, 0, 0, demand=0), at(3, 5, 5)], 4, 2.0,
                 # Nobody wants GPUs from 1 to 3 h: that time counts nowhere. Bucket [0, 2) is 0.5 over its one
                 # active hour, [2, 4) is 0 over its one active hour.
                 ShareErrorOverTime(mean=0.25, p95=0.5, tail=0.0, step_h=2.0, points=((0.0, 0.5), (2.0, 0.0))),
                 id="time without demand is left out"),
    pytest.param([at(0, 6, 4), at(19, 10, 0)], 20, 10.0,
                 # 0.1 for exactly 95 % of the time: p95 is 0.1. The last tenth (18..20 h) is 1 h of each.
                 ShareErrorOverTime(mean=(0.1 * 19 + 0.5) / 20, p95=0.1, tail=0.3, step_h=10.0,
                                    points=((0.0, 0.1), (10.0, (0.1 * 9 + 0.5) / 10))),
                 id="a peak of exactly 5 % of the time is above p95"),
    pytest.param([at(0, 6, 4), at(18.8, 10, 0)], 20, 10.0,
                 # 0.1 for 94 % of the time: the 0.5 peak sets p95. The last tenth: 0.8 h of 0.1, 1.2 h of 0.5.
                 ShareErrorOverTime(mean=(0.1 * 18.8 + 0.5 * 1.2) / 20, p95=0.5, tail=(0.1 * 0.8 + 0.5 * 1.2) / 2,
                                    step_h=10.0, points=((0.0, 0.1), (10.0, (0.1 * 8.8 + 0.5 * 1.2) / 10))),
                 id="a peak of 6 % of the time sets p95"),
    pytest.param([at(0, 9, 1), at(0.5, 5, 5)], 3, 1.0,
                 # A stretch ends mid-step: [0, 1) is 0.4 for 0.5 h and 0 for 0.5 h. 0.4 lasts 1/6 of the time,
                 # more than 5 %: it sets p95.
                 ShareErrorOverTime(mean=0.4 * 0.5 / 3, p95=0.4, tail=0.0, step_h=1.0,
                                    points=((0.0, 0.2), (1.0, 0.0), (2.0, 0.0))),
                 id="a step averages the stretches inside it"),
    pytest.param([at(0, 0, 0, demand=0)], 5, 1.0, ShareErrorOverTime(0.0, 0.0, 0.0, 1.0, ()),
                 id="nobody ever wants GPUs: no error, no points"),
])
def test_share_error_over_time(timeline: list[Sample], end_h: float, step_h: float,
                               want: ShareErrorOverTime) -> None:
    result = make_result(timeline, end_h * H)
    got = share_error_over_time(result, step_h=step_h)
    _assert_close(got, want)
    # The mean over time is the share MAE the table has always reported.
    assert got.mean == pytest.approx(share_error(result).mean_abs_error)


def _assert_close(got: ShareErrorOverTime, want: ShareErrorOverTime) -> None:
    assert (got.mean, got.p95, got.tail, got.step_h) == pytest.approx((want.mean, want.p95, want.tail, want.step_h))
    assert [p[0] for p in got.points] == pytest.approx([p[0] for p in want.points])
    assert [p[1] for p in got.points] == pytest.approx([p[1] for p in want.points])


@pytest.mark.parametrize(("span_h", "want"), [
    pytest.param(4.0, 0.01, id="4 h: 0.01 h steps (400 points)"),
    pytest.param(500.0, 1.0, id="500 h: 1 h steps (exactly 500 points)"),
    pytest.param(1000.0, 2.0, id="1,000 h: 2 h steps"),
    pytest.param(43_000.0, 100.0, id="the Gavel replay's ~43,000 h: 100 h steps (430 points)"),
    pytest.param(0.0, 1.0, id="no span: 1 h"),
])
def test_series_step_is_one_two_or_five_times_a_power_of_ten(span_h: float, want: float) -> None:
    assert series_step_h(span_h) == pytest.approx(want)


@pytest.mark.parametrize(("pairs", "q", "want"), [
    pytest.param([(0.3, 1.0), (0.1, 1.0), (0.2, 2.0)], 0.5, 0.2, id="half the weight at or below 0.2"),
    pytest.param([(0.3, 1.0), (0.1, 1.0), (0.2, 2.0)], 0.95, 0.3, id="the top value carries the last quarter"),
    pytest.param([(0.1, 3.0), (0.9, 1.0)], 0.75, 0.1, id="exactly q at a value: that value"),
    pytest.param([], 0.95, 0.0, id="nothing: 0"),
])
def test_weighted_quantile(pairs: list[tuple[float, float]], q: float, want: float) -> None:
    assert weighted_quantile(pairs, q) == pytest.approx(want)


def test_summary_reports_share_error_over_time_and_its_series() -> None:
    result = make_result([at(0, 10, 0), at(1, 5, 5), at(3, 6, 4)], 4 * H)
    summary = summarize(result)
    assert (summary.share_mae, summary.share_p95, summary.share_tail) == pytest.approx((0.15, 0.5, 0.1))
    # 4 h in at most 500 steps: 0.01 h steps, one point per step with demand.
    assert summary.share_error_step_h == pytest.approx(0.01)
    assert len(summary.share_error_series) == 400
    assert summary.share_error_series[0] == pytest.approx((0.0, 0.5))
    assert summary.share_error_series[-1] == pytest.approx((3.99, 0.1))
