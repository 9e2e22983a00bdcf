"""A cycle leaves nothing for the garbage collector: its objects go by reference counting when it ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fairshare.core.config import PolicyConfig
from fairshare.core.policies import POLICIES
from fairshare.core.types import Snapshot
from tests.builders import cluster, job, tenant


def busy_cluster() -> Snapshot:
    """Two classes, guaranteed and borrowing tenants, running and waiting gangs, measured throughput."""
    running = [job(f"a/run-{i}").tenant("a").running("a100", f"a100-{i % 2}", started=0.0) for i in range(8)]
    waiting = [job(f"{t}/wait-{i}").tenant(t).workers(1 + i % 3).submitted(float(i)) for t in "abc" for i in range(12)]
    return (cluster().gpus("a100", nodes=2, per_node=8, price=4, speed=2).gpus("t4", nodes=2, per_node=4, price=1)
            .tenants(tenant("a"), tenant("b").guarantee(a100=8), tenant("c"))
            .jobs(running, waiting, job("c/elastic").tenant("c").workers(1, 4))
            .throughput("a/run-0", "a100", 1, 50.0).throughput("a/run-0", "t4", 1, 10.0).obj())


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.usefixtures("collector_off")
def test_a_cycle_leaves_no_reference_loops(policy: str) -> None:
    result = POLICIES[policy].schedule(busy_cluster(), 7_200.0, PolicyConfig())
    assert result.decisions  # the cycle did work: admissions and waits
    assert gc.collect() == 0
