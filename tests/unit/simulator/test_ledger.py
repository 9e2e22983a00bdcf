"""Metering between events: GPU-seconds, energy, credits, spend per budget period, decayed usage."""

from __future__ import annotations

import pytest

from fairshare.core.usage import decay_usage
from fairshare.simulator.ledger import Ledger


def _ledger() -> Ledger:
    return Ledger({"v100": 300.0, "k80": 150.0}, ["a", "b"], half_life_hours=24.0, budget_period_s=10 * 3600.0,
                  start_s=0.0)


@pytest.mark.parametrize(("hours", "spent", "credits"), [
    pytest.param(4.0, 4 * 2 * 3.0, 4 * 2 * 3.0, id="within the first period"),
    pytest.param(12.0, 0.0, 12 * 2 * 3.0, id="spend restarts at the period boundary"),
])
def test_credits_and_spend(hours: float, spent: float, credits: float) -> None:
    ledger = _ledger()
    ledger.hold("a", "v100", 2, 3.0)
    ledger.advance(hours * 3600)
    assert ledger.credits_by_tenant["a"] == pytest.approx(credits)
    assert ledger.spent_this_period["a"] == pytest.approx(spent)
    assert ledger.credits_by_tenant["b"] == 0.0


def test_gpu_seconds_energy_and_decayed_usage() -> None:
    ledger = _ledger()
    ledger.hold("a", "v100", 2, 3.0)
    ledger.hold("b", "k80", 4, 1.0)
    ledger.advance(3600.0)
    ledger.release("b", "k80", 4, 1.0)
    ledger.advance(7200.0)
    assert ledger.gpu_seconds_by_class == {"v100": 2 * 7200.0, "k80": 4 * 3600.0}
    assert ledger.energy_joules == pytest.approx(2 * 300 * 7200 + 4 * 150 * 3600)
    assert ledger.decayed_usage_gpu_hours["a"] == pytest.approx(decay_usage(0.0, 2, 2.0, 24.0))
    assert ledger.decayed_usage_gpu_hours["b"] == pytest.approx(decay_usage(decay_usage(0.0, 4, 1.0, 24.0), 0, 1.0,
                                                                            24.0))
