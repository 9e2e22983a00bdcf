"""The pure scheduling core: a snapshot of the cluster in, decisions out (no Kubernetes, kopf or Prometheus here).

    from fairshare.core import schedule, PolicyConfig
    result = schedule(snapshot, now=time.time(), config=PolicyConfig())

The same sources run compiled by mypyc when a build of exactly them exists (see `fairshare.core.compiled`).
"""

# ruff: noqa: E402 (the compiled build must be on __path__ before any submodule is imported)
from fairshare.core import compiled as _compiled

COMPILED_FROM = _compiled.activate(__path__)  # the compiled build's folder in use, or None (running as Python)

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, CycleResult, Decision, Migrate, Preempt, Resize, Wait
from fairshare.core.types import Allocation, GPUClass, Job, JobPhase, Node, Snapshot, Tenant, Throughput

__all__ = [
    "COMPILED_FROM", "Admit", "Allocation", "CycleResult", "Decision", "GPUClass", "Job", "JobPhase", "Migrate",
    "Node", "PolicyConfig", "Preempt", "Resize", "Snapshot", "Tenant", "Throughput", "Wait", "schedule",
]
