"""A cycle leaves no per-job objects to the garbage collector: they go by reference counting when it ends.

(Compiled by mypyc, a function with nested functions leaves its closure environment in a loop with them, so a few
objects per tenant and class can still wait for the collector; nothing that grows with the number of jobs does.)"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fairshare.core.config import PolicyConfig
from fairshare.core.types import Snapshot
from fairshare.simulator.policies import POLICIES
from tests.builders import cluster, job, tenant


def busy_cluster() -> Snapshot:
    """Two classes, guaranteed and borrowing tenants, running and waiting gangs, measured throughput."""
    running = [job(f"a/run-{i}").tenant("a").running("a100", f"a100-{i % 2}", started=0.0) for i in range(8)]
    waiting = [job(f"{t}/wait-{i}").tenant(t).workers(1 + i % 3).submitted(float(i)) for t in "abc" for i in range(12)]
    return (cluster().gpus("a100", nodes=2, per_node=8, price=4, speed=2).gpus("t4", nodes=2, per_node=4, price=1)
            .tenants(tenant("a"), tenant("b").guarantee(a100=8), tenant("c"))
            .jobs(running, waiting, job("c/elastic").tenant("c").workers(1, 4))
            .throughput("a/run-0", "a100", 1, 50.0).throughput("a/run-0", "t4", 1, 10.0).obj())


PER_JOB = {"PendingJob", "RunState", "Wait", "Admit", "Preempt", "Resize", "Migrate", "Job", "Allocation"}


@pytest.fixture
def garbage() -> Iterator[list[object]]:
    """What the collector finds unreachable (kept for inspection) after the test's code ran with it off."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    found: list[object] = []
    try:
        yield found
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_a_cycle_leaves_no_per_job_objects_in_reference_loops(policy: str, garbage: list[object]) -> None:
    # A first cycle may import what the policy loads lazily (the Gavel LP's scipy), whose module set-up leaves
    # loops of its own once per process; the cycle measured is the next one.
    POLICIES[policy].schedule(busy_cluster(), 3_600.0, PolicyConfig())
    gc.set_debug(0)  # free that for good (saved garbage would be found again), then watch the next cycle
    gc.garbage.clear()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    result = POLICIES[policy].schedule(busy_cluster(), 7_200.0, PolicyConfig())
    assert result.decisions  # the cycle did work: admissions and waits
    gc.collect()
    looped = {type(o).__name__ for o in gc.garbage}
    assert not looped & PER_JOB
    assert len(gc.garbage) < 200
