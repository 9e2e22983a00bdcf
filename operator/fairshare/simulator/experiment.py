"""One experiment: build the workload, cluster and tenants from a spec, then replay every chosen policy on them."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fairshare.simulator import cluster as clusters
from fairshare.simulator import traces
from fairshare.simulator.engine import EngineConfig, Replay
from fairshare.simulator.metrics import PolicySummary, summarize
from fairshare.simulator.rates import OracleRates
from fairshare.simulator.results import RunResult
from fairshare.simulator.synthetic import SyntheticSpec, generate
from fairshare.simulator.tenants import TenantSpec, default_tenants, load_overrides
from fairshare.simulator.throughput_matrix import load_matrix
from fairshare.simulator.workload import (
    Workload,
    drop_jobs_larger_than,
    drop_jobs_that_cannot_run,
    drop_unmeasured_sizes,
    first_jobs,
    one_tenant,
    sample_jobs,
    scale_arrival_rate,
)

WORKLOADS = ("gavel-philly", "pollux-philly", "shockwave", "synthetic")


@dataclasses.dataclass(frozen=True)
class ExperimentSpec:
    """Everything that determines a run; the same spec and seed give the same jobs, cluster and results."""

    workload: str = "gavel-philly"
    cluster: str = "gavel-36"
    policies: tuple[str, ...] = ("market",)
    seed: int = 0
    max_jobs: int | None = None
    sample: float = 1.0
    measured_sizes_only: bool = False
    one_tenant: bool = False
    arrival_rate: float = 1.0
    tenants_file: Path | None = None
    guarantee_fraction: float = 1.0
    budget_per_period: float | None = None
    shockwave_trace: str = "900_0.2_5_100_"
    shockwave_tenants: int = 4
    synthetic: SyntheticSpec = SyntheticSpec()
    engine: EngineConfig = EngineConfig()
    policy_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Experiment:
    spec: ExperimentSpec
    workload: Workload
    cluster: clusters.ClusterSpec
    tenants: tuple[TenantSpec, ...]
    results: tuple[RunResult, ...]
    summaries: tuple[PolicySummary, ...]


def load_workload(spec: ExperimentSpec, data_dir: Path, rng: random.Random) -> Workload:
    if spec.workload == "gavel-philly":
        return traces.load_gavel_philly(data_dir)
    if spec.workload == "pollux-philly":
        return traces.load_pollux_philly(data_dir, rng)
    if spec.workload == "shockwave":
        return traces.load_shockwave(data_dir, rng, spec.shockwave_tenants, spec.shockwave_trace)
    if spec.workload == "synthetic":
        return generate(spec.synthetic, load_matrix(data_dir / "gavel" / "simulation_throughputs.json"), rng)
    raise RuntimeError(f"unknown workload {spec.workload!r}; known: {', '.join(WORKLOADS)}")


def load_cluster(name: str, data_dir: Path, rng: random.Random) -> clusters.ClusterSpec:
    """A preset name, `pai-<machines>` (sampled from Alibaba PAI's fleet), or a nodePools YAML path."""
    if name.startswith("pai-") and name[4:].isdigit():
        return clusters.load_pai_fleet(data_dir, int(name[4:]), rng)
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        return clusters.from_shape_file(Path(name))
    return clusters.preset(name)


def prepare(workload: Workload, cluster: clusters.ClusterSpec, spec: ExperimentSpec,
            rng: random.Random) -> Workload:
    """Drop jobs the cluster can never run, then subsample, limit and rescale arrivals as the spec says."""
    workload = drop_jobs_larger_than(workload, max(cluster.capacity().values()))
    workload = drop_jobs_that_cannot_run(workload, sorted({c.info.matrix_type for c in cluster.classes}))
    if spec.measured_sizes_only:
        workload = drop_unmeasured_sizes(workload)
    workload = sample_jobs(workload, spec.sample, rng)
    workload = first_jobs(workload, spec.max_jobs)
    if spec.one_tenant:
        workload = one_tenant(workload)
    return scale_arrival_rate(workload, spec.arrival_rate)


def resolve_policies(names: tuple[str, ...], known: Mapping[str, Any]) -> tuple[str, ...]:
    if "all" in names:
        return tuple(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RuntimeError(f"unknown policy {', '.join(unknown)}; known: {', '.join(known)}, or all")
    return names


def with_oracle(policy: Any, workload: Workload, cluster: clusters.ClusterSpec) -> Any:
    """The policy, given true throughput if it reads an oracle (Gavel's LP baseline, as in Gavel's simulator):
    samples/s of the job's first phase on a class at a gang size, consolidated. Others are returned as they are."""
    if not hasattr(policy, "with_oracle"):
        return policy
    oracle = OracleRates(workload.matrix, cluster)
    job_type = {j.key: j.phases[0].job_type for j in workload.jobs}

    def rate(job_key: str, gpu_class: str, gpus: int) -> float:
        return oracle.samples_per_second(job_type[job_key], gpu_class, gpus)

    return policy.with_oracle(rate)


def run_experiment(spec: ExperimentSpec, data_dir: Path,
                   on_result: Callable[[RunResult, PolicySummary], None] | None = None) -> Experiment:
    from fairshare.core.config import PolicyConfig
    from fairshare.simulator.policies import POLICIES

    rng = random.Random(spec.seed)
    cluster = load_cluster(spec.cluster, data_dir, rng)
    workload = prepare(load_workload(spec, data_dir, rng), cluster, spec, rng)
    tenants = load_overrides(default_tenants(workload.tenants, cluster.capacity(), spec.guarantee_fraction,
                                             spec.budget_per_period), spec.tenants_file)
    policy_config = PolicyConfig(**dict(spec.policy_overrides))
    results, summaries = [], []
    for name in resolve_policies(spec.policies, POLICIES):
        result = Replay(workload, cluster, tenants, with_oracle(POLICIES[name], workload, cluster), policy_config,
                        spec.engine,
                        random.Random(spec.seed)).run()
        summary = summarize(result)
        results.append(result)
        summaries.append(summary)
        if on_result is not None:
            on_result(result, summary)
    return Experiment(spec, workload, cluster, tenants, tuple(results), tuple(summaries))
