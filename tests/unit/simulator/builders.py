"""Small builders for simulator tests: a tiny throughput matrix, jobs, workloads, clusters and scripted policies.

The matrix values are copied from Gavel's simulation_throughputs.json (stanford-futuredata/gavel @ c4fa400, MIT),
rounded; only a handful of rows, enough for the rules under test.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fairshare.core.decisions import Admit, CycleResult, Decision, Preempt
from fairshare.core.types import JobPhase, Snapshot
from fairshare.simulator.cluster import ClusterSpec, build_cluster
from fairshare.simulator.results import RunResult, Sample
from fairshare.simulator.throughput_matrix import ThroughputMatrix, batch_size_of, parse_matrix
from fairshare.simulator.workload import Phase, TraceJob, Workload

R18 = "ResNet-18 (batch size 32)"
R18_64 = "ResNet-18 (batch size 64)"
R18_128 = "ResNet-18 (batch size 128)"
REC = "Recommendation (batch size 512)"

MATRIX_DOC: dict[str, dict[str, dict[str, float]]] = {
    "v100": {f"('{R18}', 1)": {"null": 30.0}, f"('{R18}', 2)": {"null": 56.0}, f"('{R18}', 4)": {"null": 114.0},
             f"('{R18_64}', 1)": {"null": 24.0}, f"('{R18_128}', 1)": {"null": 16.0},
             f"('{REC}', 1)": {"null": 60.0}},
    "k80": {f"('{R18}', 1)": {"null": 7.0}, f"('{R18}', 2)": {"null": 12.0}, f"('{R18}', 4)": {"null": 22.0},
            f"('{R18_64}', 1)": {"null": 5.0}, f"('{R18_128}', 1)": {"null": 3.0},
            f"('{REC}', 1)": {"null": 0.0}},
    "v100_unconsolidated": {f"('{R18}', 2)": {"null": 40.0}, f"('{R18}', 4)": {"null": 38.0}},
}


def tiny_matrix() -> ThroughputMatrix:
    return parse_matrix(MATRIX_DOC)


class JobBuilder:
    """`make_job("a/j1").tenant("a").gpus(2).steps(3000).at(60).obj()`."""

    def __init__(self, key: str) -> None:
        self._fields: dict[str, Any] = dict(key=key, tenant=key.split("/")[0], arrival_s=0.0, work_samples=32.0 * 300,
                                            phases=(Phase(0.0, R18),), min_workers=1, max_workers=1)

    def tenant(self, name: str) -> JobBuilder:
        self._fields["tenant"] = name
        return self

    def gpus(self, n: int, elastic_from: int | None = None) -> JobBuilder:
        self._fields.update(max_workers=n, min_workers=elastic_from or n)
        return self

    def steps(self, steps: float, job_type: str = R18) -> JobBuilder:
        self._fields.update(work_samples=steps * batch_size_of(job_type), phases=(Phase(0.0, job_type),))
        return self

    def phases(self, *phases: Phase) -> JobBuilder:
        self._fields["phases"] = tuple(phases)
        return self

    def at(self, arrival_s: float) -> JobBuilder:
        self._fields["arrival_s"] = arrival_s
        return self

    def obj(self) -> TraceJob:
        return TraceJob(**self._fields)


def make_job(key: str) -> JobBuilder:
    return JobBuilder(key)


def make_workload(*jobs: TraceJob, matrix: ThroughputMatrix | None = None) -> Workload:
    tenants = tuple(dict.fromkeys(j.tenant for j in jobs))
    return Workload("test", (), tenants, matrix or tiny_matrix(), "test fixture").replace_jobs(jobs)


def make_cluster(*pools: tuple[str, int, int]) -> ClusterSpec:
    return build_cluster("test", pools)


@dataclasses.dataclass
class ScriptedPolicy:
    """A test double behind the core's Policy interface: `script(snapshot, now)` returns decisions; every
    snapshot it was shown is kept for assertions."""

    script: Callable[[Snapshot, float], Sequence[Decision]]
    name: str = "scripted"
    seen: list[tuple[float, Snapshot]] = dataclasses.field(default_factory=list)
    # (snapshot, now) -> the wake time to report (CycleResult.wake_at); None reports none.
    wake: Callable[[Snapshot, float], float | None] | None = None
    # now -> the cycle's prices (CycleResult.prices) and fair shares (CycleResult.fair_shares); none by default.
    prices: Callable[[float], Mapping[str, float]] | None = None
    fair_shares: Callable[[float], Mapping[str, Mapping[str, float]]] | None = None

    def schedule(self, snapshot: Snapshot, now: float, config: Any) -> CycleResult:
        self.seen.append((now, snapshot))
        return CycleResult(decisions=tuple(self.script(snapshot, now)),
                           prices=self.prices(now) if self.prices is not None else {},
                           fair_shares=self.fair_shares(now) if self.fair_shares is not None else {},
                           step_seconds={}, wake_at=self.wake(snapshot, now) if self.wake is not None else None)


def admit_pending_on(gpu_class: str, nodes: Mapping[str, int]) -> Callable[[Snapshot, float], list[Decision]]:
    """A script that admits each pending job whole onto the first node of `gpu_class` with room."""

    def script(snapshot: Snapshot, now: float) -> list[Decision]:
        free = dict(nodes)
        for job in snapshot.jobs:
            if job.allocation is not None:
                for node in job.allocation.nodes:
                    free[node] -= job.gpus_per_worker
        out: list[Decision] = []
        for job in snapshot.jobs:
            if job.phase is JobPhase.PENDING:
                node = next((n for n, f in free.items() if f >= job.max_workers * job.gpus_per_worker), None)
                if node is not None:
                    free[node] -= job.max_workers * job.gpus_per_worker
                    out.append(Admit(job.key, gpu_class, job.max_workers, (node,) * job.max_workers, 1.0))
        return out

    return script


def preempt_at(times: Sequence[float], then: Callable[[Snapshot, float], list[Decision]]
               ) -> Callable[[Snapshot, float], list[Decision]]:
    """A script that preempts every running job at the given times and otherwise does what `then` does."""

    def script(snapshot: Snapshot, now: float) -> list[Decision]:
        if any(abs(now - t) < 1e-9 for t in times):
            return [Preempt(j.key, "test") for j in snapshot.jobs if j.allocation is not None]
        return then(snapshot, now)

    return script


def replay(workload: Workload, cluster: ClusterSpec, policy: Any, seed: int = 0, **engine: Any) -> RunResult:
    """Run one policy with default equal-split tenants and the given EngineConfig fields."""
    from fairshare.core.config import PolicyConfig
    from fairshare.simulator.engine import EngineConfig, Replay
    from fairshare.simulator.experiment import with_oracle
    from fairshare.simulator.tenants import default_tenants

    tenants = default_tenants(workload.tenants, cluster.capacity())
    return Replay(workload, cluster, tenants, with_oracle(policy, workload, cluster), PolicyConfig(),
                  EngineConfig(**engine),
                  random.Random(seed)).run()


def make_result(timeline: Sequence[Sample] = (), end_s: float = 0.0, **fields: Any) -> RunResult:
    """A hand-built RunResult: one 10-GPU V100 class, tenants a and b of weight 1, no jobs, unless `fields` say."""
    base: dict[str, Any] = dict(policy="p", capacity={"v100": 10}, weights={"a": 1.0, "b": 1.0}, jobs=(),
                                timeline=tuple(timeline), end_s=end_s, gpu_seconds_by_class={},
                                restart_gpu_seconds=0.0, credits_by_tenant={}, energy_joules=0.0, cycles=0,
                                scheduler_wall_s=0.0, wall_s=0.0, violations=())
    return RunResult(**{**base, **fields})
