"""Applying a cycle's decisions gives the next snapshot: what the simulator and what-if questions build on."""

from __future__ import annotations

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.types import Allocation, JobPhase
from fairshare.simulator.replay import apply
from tests.builders import cluster, job, tenant

NOW = 100_000.0


def test_apply_admits_preempts_and_resizes() -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("nlp").guarantee(a100=4), "cv").jobs(
        job("cv/elastic").workers(1, 3).gpus(2).running("a100", "a100-0", "a100-0", "a100-0", started=0),
        job("cv/fixed").gpus(2).running("a100", "a100-0", started=0),
        job("nlp/train").gpus(2)).obj()
    after = apply(snapshot, schedule(snapshot, NOW, PolicyConfig()), NOW)
    jobs = {j.key: j for j in after.jobs}
    assert jobs["nlp/train"].phase is JobPhase.RUNNING
    assert jobs["nlp/train"].allocation == Allocation("a100", 1, ("a100-0",), NOW, None, False)
    assert jobs["cv/elastic"].allocation == Allocation("a100", 2, ("a100-0", "a100-0"), 0, NOW, False)
    assert jobs["cv/fixed"] == snapshot.jobs[1]
    # Applying twice is harmless: the second cycle finds nothing to change.
    again = schedule(after, NOW + 60, PolicyConfig())
    assert again.decisions == ()
