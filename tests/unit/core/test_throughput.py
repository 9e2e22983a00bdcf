"""Throughput estimates: measured, interpolated, scaled from another class, or the relative_speed prior."""

from __future__ import annotations

import pytest

from fairshare.core.throughput import (
    ABOVE_EXPECTED,
    JUMP,
    NOT_A_RATE,
    estimate,
    implausible_throughput,
    index_throughputs,
    interpolate,
    marginal_efficiency,
    normalized_speeds,
    smooth,
)
from fairshare.core.types import GPUClass, Throughput

A100 = GPUClass("a100", 4.0, 400, relative_speed=2.0)
V100 = GPUClass("v100", 2.0, 300, relative_speed=1.0)
CLASSES = {"a100": A100, "v100": V100}


@pytest.mark.parametrize(
    ("curves", "gpu_class", "workers", "want"),
    [
        pytest.param(None, A100, 2, 4.0, id="unmeasured throughput falls back to class relative_speed prior"),
        pytest.param({"a100": ((1, 100.0),)}, A100, 1, 100.0, id="measured point"),
        pytest.param({"a100": ((1, 100.0),)}, A100, 3, 300.0, id="beyond the largest size scales linearly"),
        pytest.param({"a100": ((2, 100.0), (4, 150.0))}, A100, 3, 125.0, id="between sizes interpolates"),
        pytest.param({"a100": ((2, 100.0),)}, A100, 1, 50.0, id="below the smallest size scales linearly"),
        pytest.param({"a100": ((1, 100.0),)}, V100, 1, 50.0, id="another class scales by relative speed"),
        pytest.param({"a100": ((1, 100.0),), "v100": ((1, 90.0),)}, V100, 1, 90.0,
                     id="a measurement beats the prior"),
    ],
)
def test_estimate(curves: dict[str, tuple[tuple[int, float], ...]] | None, gpu_class: GPUClass, workers: int,
                  want: float) -> None:
    assert estimate(curves, gpu_class, workers, CLASSES) == pytest.approx(want)


def test_index_keeps_the_latest_sample_per_size_and_drops_nonsense() -> None:
    curves = index_throughputs([Throughput("j", "a100", 2, 10.0), Throughput("j", "a100", 1, 6.0),
                                Throughput("j", "a100", 2, 12.0), Throughput("j", "v100", 0, 5.0),
                                Throughput("j", "v100", 1, 0.0)])
    assert curves == {"j": {"a100": ((1, 6.0), (2, 12.0))}}
    assert interpolate(curves["j"]["a100"], 2) == 12.0


@pytest.mark.parametrize(
    ("curves", "want"),
    [
        pytest.param(None, [1.0, 0.5], id="prior: a100 twice as fast per GPU"),
        pytest.param({"a100": ((1, 100.0),), "v100": ((1, 95.0),)}, [1.0, 0.95], id="memory-bound job"),
        pytest.param({"v100": ((1, 80.0),)}, [1.0, 0.5], id="one measured class sets the scale"),
    ],
)
def test_normalized_speeds(curves: dict[str, tuple[tuple[int, float], ...]] | None, want: list[float]) -> None:
    assert normalized_speeds(curves, [A100, V100], 1, CLASSES) == pytest.approx(want)


@pytest.mark.parametrize(
    ("curves", "workers", "want"),
    [
        pytest.param(None, 2, 1.0, id="unmeasured: assume linear scaling"),
        pytest.param({"a100": ((2, 100.0), (4, 150.0))}, 2, 0.5, id="diminishing returns"),
        pytest.param({"a100": ((2, 100.0), (3, 100.0))}, 2, 0.0, id="no gain"),
    ],
)
def test_marginal_efficiency(curves: dict[str, tuple[tuple[int, float], ...]] | None, workers: int,
                             want: float) -> None:
    assert marginal_efficiency(curves, A100, workers, CLASSES) == pytest.approx(want)


@pytest.mark.parametrize(
    ("previous", "sample", "want"),
    [pytest.param(None, 10.0, 10.0, id="first sample"), pytest.param(10.0, 20.0, 13.0, id="weighted mean")],
)
def test_smooth(previous: float | None, sample: float, want: float) -> None:
    assert smooth(previous, sample, 0.3) == pytest.approx(want)


@pytest.mark.parametrize(("sample", "smoothed", "expected", "why"), [
    pytest.param(120.0, 100.0, 110.0, None, id="in line: kept"),
    pytest.param(5_000.0, None, None, None, id="a first reading with nothing to compare: kept"),
    pytest.param(0.0, None, None, NOT_A_RATE, id="zero"),
    pytest.param(-3.0, 100.0, None, NOT_A_RATE, id="negative"),
    pytest.param(float("nan"), None, None, NOT_A_RATE, id="not a number"),
    pytest.param(float("inf"), None, None, NOT_A_RATE, id="infinite"),
    pytest.param(999_999.0, None, 400.0, ABOVE_EXPECTED, id="the issue's forged 999999 against 400 expected"),
    pytest.param(40_000.0, None, 400.0, None, id="exactly 100x expected: kept"),
    pytest.param(40_001.0, None, 400.0, ABOVE_EXPECTED, id="just over 100x expected"),
    pytest.param(1_001.0, 100.0, None, JUMP, id="over 10x the smoothed value in one window"),
    pytest.param(1_000.0, 100.0, None, None, id="exactly 10x: kept"),
    pytest.param(9.0, 100.0, None, JUMP, id="a fall to under a tenth"),
])
def test_implausible_throughput(sample: float, smoothed: float | None, expected: float | None,
                                why: str | None) -> None:
    assert implausible_throughput(sample, smoothed, expected) == why
