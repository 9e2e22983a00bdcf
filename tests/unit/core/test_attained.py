"""Least attained service within a tenant: bands, queue order, who gives way to whom, and what the tenant keeps."""

from __future__ import annotations

import pytest

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import service_band
from fairshare.core.index import build
from fairshare.core.types import Snapshot
from fairshare.simulator.policies import POLICIES
from tests.builders import cluster, job
from tests.unit.core.helpers import Row, summary

NOW = 100_000.0
HOUR = 3600.0


@pytest.mark.parametrize(("gpu_hours", "quantum", "growth", "band"), [
    pytest.param(0.0, 1.0, 10.0, 0, id="nothing held yet"),
    pytest.param(0.99, 1.0, 10.0, 0, id="under one quantum"),
    pytest.param(1.0, 1.0, 10.0, 1, id="one quantum starts band 1"),
    pytest.param(9.9, 1.0, 10.0, 1, id="band 1 ends at growth x quantum"),
    pytest.param(10.0, 1.0, 10.0, 2, id="band 2"),
    pytest.param(5000.0, 1.0, 10.0, 4, id="thousands of GPU-hours"),
    pytest.param(3.0, 0.5, 2.0, 3, id="other quantum and growth: 0.5, 1, 2, 4"),
    pytest.param(5000.0, 0.0, 10.0, 0, id="quantum 0: one band for everyone"),
])
def test_service_band(gpu_hours: float, quantum: float, growth: float, band: int) -> None:
    config = PolicyConfig(service_quantum_gpu_hours=quantum, service_band_growth=growth)
    assert service_band(gpu_hours, config) == band


def test_a_tenant_queue_puts_the_least_served_first_within_a_priority() -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=1).tenants("a").jobs(
        job("a/blocker").running("a100", "a100-0", started=NOW - 60),
        job("a/long").attained(50).submitted(0), job("a/fresh").submitted(10), job("a/some").attained(0.5)
        .submitted(20), job("a/urgent").priority(1).attained(500).submitted(30)).obj()
    queue = [p.job.key for p in build(snapshot, NOW, PolicyConfig()).tenants["a"].queue]
    assert queue == ["a/urgent", "a/fresh", "a/some", "a/long"]


def test_baselines_keep_first_come_first_served() -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=1).tenants("a").jobs(
        job("a/long").attained(50).submitted(0), job("a/fresh").submitted(10)).obj()
    result = POLICIES["static-quota"].schedule(snapshot, NOW, PolicyConfig())
    assert summary(result) == [("admit", "a/long", "a100", ("a100-0",)), ("wait", "a/fresh", 0)]


def _served(*jobs: object, per_node: int = 8) -> Snapshot:
    return cluster().gpus("a100", nodes=1, per_node=per_node).tenants("a", "b").jobs(*jobs).obj()


@pytest.mark.parametrize(("snapshot", "want"), [
    pytest.param(
        _served(job("a/long").gpus(4).running("a100", "a100-0", started=0),
                job("b/busy").gpus(4).running("a100", "a100-0", started=NOW - 60),
                job("a/small").gpus(1), job("a/next").gpus(2).submitted(1), job("a/last").gpus(4).submitted(2)),
        [("preempt", "a/long"), ("admit", "a/next", "a100", ("a100-0",)),
         ("admit", "a/small", "a100", ("a100-0",)), ("wait", "a/last", 0)],
        id="a big long job makes way for a small fresh one: the tenant's next jobs take the rest of its GPUs"),
    pytest.param(
        _served(job("a/long").gpus(4).running("a100", "a100-0", started=0),
                job("b/busy").gpus(4).running("a100", "a100-0", started=NOW - 60),
                job("a/fresh").gpus(4).classes("h100")),
        [("wait", "a/fresh", 0)],
        id="a waiting job that cannot run on the class takes nothing from it"),
    pytest.param(
        _served(job("a/long").gpus(4).running("a100", "a100-0", started=0),
                job("a/longer").gpus(4).running("a100", "a100-0", started=0, checkpoint=NOW - 60).attained(200),
                job("a/fresh").gpus(4)),
        [("preempt", "a/longer"), ("admit", "a/fresh", "a100", ("a100-0",))],
        id="the most served job gives way first"),
    pytest.param(
        _served(job("a/long").gpus(4).non_preemptible().running("a100", "a100-0", started=0),
                job("b/busy").gpus(4).running("a100", "a100-0", started=NOW - 60),
                job("a/fresh").gpus(4)),
        [("wait", "a/fresh", 0)],
        id="a non-preemptible job never gives way"),
])
def test_who_gives_way(snapshot: Snapshot, want: list[Row]) -> None:
    assert summary(schedule(snapshot, NOW, PolicyConfig())) == want


def test_quantum_zero_turns_service_order_off() -> None:
    snapshot = _served(job("a/long").gpus(8).running("a100", "a100-0", started=0), job("a/fresh").gpus(8))
    on = summary(schedule(snapshot, NOW, PolicyConfig()))
    off = summary(schedule(snapshot, NOW, PolicyConfig(service_quantum_gpu_hours=0)))
    assert (on, off) == ([("preempt", "a/long"), ("admit", "a/fresh", "a100", ("a100-0",))],
                         [("wait", "a/fresh", 0)])
