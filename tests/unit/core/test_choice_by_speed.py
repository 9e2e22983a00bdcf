"""The order in which a tenant tries a job's classes: throughput per credit (the market's rule), or fastest first
(PolicyConfig.choice_by_speed)."""

from __future__ import annotations

import pytest

from fairshare.core.config import PolicyConfig
from fairshare.core.index import build
from fairshare.core.rules import ranked_options
from tests.builders import cluster, job

NOW = 100_000.0


@pytest.mark.parametrize(("prices", "by_speed", "want"), [
    pytest.param({"fast": 3.0, "slow": 1.0}, False, ["slow", "fast"],
                 id="per credit: a class 2x slower at a third of the price goes first"),
    pytest.param({"fast": 3.0, "slow": 1.0}, True, ["fast", "slow"], id="by speed: the fast class goes first"),
    pytest.param({"fast": 1.0, "slow": 1.0}, False, ["fast", "slow"], id="per credit, equal prices: the faster"),
    pytest.param({"fast": 1.0, "slow": 1.0}, True, ["fast", "slow"], id="by speed, equal prices: the same"),
])
def test_class_order(prices: dict[str, float], by_speed: bool, want: list[str]) -> None:
    snapshot = cluster().gpus("fast", speed=2.0).gpus("slow", speed=1.0).tenants("a").jobs(job("a/x")).obj()
    cycle = build(snapshot, NOW, PolicyConfig(choice_by_speed=by_speed))
    for name, price in prices.items():
        cycle.classes[name].price = price
    assert [cs.name for cs in ranked_options(cycle, cycle.pending[0])] == want


@pytest.mark.parametrize("by_speed", [False, True])
def test_equal_speeds_go_by_price_then_name(by_speed: bool) -> None:
    snapshot = cluster().gpus("b", speed=1.0).gpus("a", speed=1.0).gpus("c", speed=1.0).tenants("t").jobs(
        job("t/x")).obj()
    cycle = build(snapshot, NOW, PolicyConfig(choice_by_speed=by_speed))
    for name, price in {"a": 1.0, "b": 1.0, "c": 0.5}.items():
        cycle.classes[name].price = price
    assert [cs.name for cs in ranked_options(cycle, cycle.pending[0])] == ["c", "a", "b"]
