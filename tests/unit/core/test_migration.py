"""Step 8: measured jobs move to (or swap into) the class where their own throughput says they run much faster."""

from __future__ import annotations

import pytest

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Migrate
from fairshare.core.types import Snapshot
from fairshare.simulator.replay import apply
from tests.builders import ClusterBuilder, cluster, job, tenant

NOW = 100_000.0
LONG_AGO = 0.0  # past any minimum run time


def two_classes() -> ClusterBuilder:
    """a100 twice as fast as v100 by the prior, same price; one 4-GPU node each; tenant "a" may use both."""
    return cluster().gpus("a100", nodes=1, per_node=4, speed=2).gpus("v100", nodes=1, per_node=4).tenants("a")


def moves(snapshot: Snapshot, config: PolicyConfig | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    result = schedule(snapshot, NOW, config or PolicyConfig())
    return [(d.job_key, d.gpu_class, d.nodes) for d in result.decisions if isinstance(d, Migrate)]


@pytest.mark.parametrize(("snapshot", "config", "expected"), [
    pytest.param(
        two_classes().jobs(job("a/x").gpus(4).running("v100", "v100-0", started=LONG_AGO))
        .throughput("a/x", "v100", 1, 100.0).obj(), None, [("a/x", "a100", ("a100-0",))],
        id="a measured job on the slow class moves when the fast one is free"),
    pytest.param(
        two_classes().jobs(job("a/x").gpus(4).running("v100", "v100-0", started=LONG_AGO)).obj(), None, [],
        id="an unmeasured job stays (nothing says what it gains)"),
    pytest.param(
        two_classes().jobs(job("a/x").gpus(4).running("v100", "v100-0", started=NOW - 60))
        .throughput("a/x", "v100", 1, 100.0).obj(), None, [],
        id="not before its minimum run time"),
    pytest.param(
        two_classes().jobs(job("a/x").gpus(4).running("v100", "v100-0", started=LONG_AGO))
        .throughput("a/x", "v100", 1, 100.0).throughput("a/x", "a100", 1, 120.0).obj(), None, [],
        id="measured on both: a 1.2x gain is not worth a restart"),
    pytest.param(
        two_classes().jobs(job("a/x").gpus(4).running("v100", "v100-0", started=LONG_AGO), job("a/new").gpus(4))
        .throughput("a/x", "v100", 1, 100.0).obj(), None, [],
        id="pending work takes free capacity before any move"),
    pytest.param(
        two_classes().jobs(job("a/x").gpus(4).classes("v100").running("v100", "v100-0", started=LONG_AGO))
        .throughput("a/x", "v100", 1, 100.0).obj(), None, [],
        id="never onto a class the job does not accept"),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, speed=2).gpus("v100", nodes=1, per_node=4)
        .tenants(tenant("a").borrowing(a100=0)).jobs(job("a/x").gpus(4).running("v100", "v100-0", started=LONG_AGO))
        .throughput("a/x", "v100", 1, 100.0).obj(), None, [],
        id="never past the tenant's borrowing limit"),
    pytest.param(
        two_classes().jobs(job("a/x").gpus(4).running("v100", "v100-0", started=LONG_AGO))
        .throughput("a/x", "v100", 1, 100.0).obj(), PolicyConfig(migration_gain=0), [],
        id="migration_gain 0 disables moves"),
    pytest.param(
        two_classes().jobs(job("a/memory").gpus(4).running("a100", "a100-0", started=LONG_AGO),
                           job("a/compute").gpus(4).running("v100", "v100-0", started=LONG_AGO))
        .throughput("a/memory", "a100", 1, 100.0).throughput("a/memory", "v100", 1, 95.0)
        .throughput("a/compute", "v100", 1, 50.0).obj(), None,
        [("a/compute", "a100", ("a100-0",)), ("a/memory", "v100", ("v100-0",))],
        id="a job measured to gain nothing from the fast class swaps it for one that gains"),
    pytest.param(
        two_classes().jobs(job("a/memory").gpus(4).running("a100", "a100-0", started=LONG_AGO),
                           job("a/compute").gpus(4).running("v100", "v100-0", started=LONG_AGO))
        .throughput("a/memory", "a100", 1, 100.0).throughput("a/compute", "v100", 1, 50.0).obj(), None, [],
        id="no swap on the prior alone: one's gain is the other's loss"),
    pytest.param(
        two_classes().jobs(job("a/memory").gpus(4).running("a100", "a100-0", started=LONG_AGO),
                           job("a/compute").workers(2).gpus(2).running("v100", "v100-0", "v100-0",
                                                                      started=LONG_AGO))
        .throughput("a/memory", "a100", 1, 100.0).throughput("a/memory", "v100", 1, 95.0)
        .throughput("a/compute", "v100", 2, 50.0).obj(), None, [],
        id="only gangs of the same shape swap"),
])
def test_moves(snapshot: Snapshot, config: PolicyConfig | None, expected: list[tuple[str, str, tuple[str, ...]]]) \
        -> None:
    assert moves(snapshot, config) == expected


def test_a_move_says_why_with_the_numbers_and_is_charged_the_new_price() -> None:
    snapshot = (cluster().gpus("a100", nodes=1, per_node=4, speed=2, price=3).gpus("v100", nodes=1, per_node=4)
                .tenants("a").jobs(job("a/x").gpus(4).running("v100", "v100-0", started=LONG_AGO))
                .throughput("a/x", "v100", 1, 100.0).obj())
    result = schedule(snapshot, NOW)
    [move] = [d for d in result.decisions if isinstance(d, Migrate)]
    assert move.reason == "moving from v100 to a100: expected 2.00x its measured throughput on v100"
    assert result.charges["a/x"] == move.price_per_gpu_hour == result.prices["a100"]


def test_after_a_swap_nothing_moves_back() -> None:
    snapshot = (two_classes().jobs(job("a/memory").gpus(4).running("a100", "a100-0", started=LONG_AGO),
                                   job("a/compute").gpus(4).running("v100", "v100-0", started=LONG_AGO))
                .throughput("a/memory", "a100", 1, 100.0).throughput("a/memory", "v100", 1, 95.0)
                .throughput("a/compute", "v100", 1, 50.0).obj())
    after = apply(snapshot, schedule(snapshot, NOW), NOW)
    later = NOW + 3600.0
    measured = Snapshot(after.classes, after.nodes, after.tenants, after.jobs,
                        (*after.throughputs, *cluster().throughput("a/compute", "a100", 1, 100.0).obj().throughputs))
    assert [d for d in schedule(measured, later).decisions if isinstance(d, Migrate)] == []
