"""Usage decay and spend metering: pure functions the operator and the simulator call between cycles."""

from __future__ import annotations

import pytest

from fairshare.core.usage import decay_factor, decay_usage, spend


@pytest.mark.parametrize(
    ("usage", "gpus", "hours", "half_life", "want"),
    [
        pytest.param(100.0, 0, 24, 24, 50.0, id="one half-life halves usage"),
        pytest.param(100.0, 0, 48, 24, 25.0, id="two half-lives quarter it"),
        pytest.param(0.0, 8, 0, 24, 0.0, id="no time, no usage"),
        pytest.param(0.0, 1, 1e-9, 24, 1e-9, id="a moment's use counts in full"),
    ],
)
def test_decay_usage(usage: float, gpus: float, hours: float, half_life: float, want: float) -> None:
    assert decay_usage(usage, gpus, hours, half_life) == pytest.approx(want, rel=1e-6, abs=1e-15)


def test_decay_does_not_depend_on_how_often_it_is_called() -> None:
    once = decay_usage(10.0, 4, 6.0, 24.0)
    often = 10.0
    for _ in range(60):
        often = decay_usage(often, 4, 0.1, 24.0)
    assert often == pytest.approx(once)
    assert decay_factor(24.0, 24.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("gpus", "price", "hours", "want"),
    [pytest.param(8, 2.5, 0.5, 10.0, id="allocation x price x hours"), pytest.param(8, 2.5, -1, 0.0, id="no refunds")],
)
def test_spend(gpus: float, price: float, hours: float, want: float) -> None:
    assert spend(gpus, price, hours) == want
