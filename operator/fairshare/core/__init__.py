"""The pure scheduling core: a snapshot of the cluster in, decisions out (no Kubernetes, kopf or Prometheus here).

    from fairshare.core import schedule, PolicyConfig
    result = schedule(snapshot, now=time.time(), config=PolicyConfig())
"""

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, CycleResult, Decision, Migrate, Preempt, Resize, Wait
from fairshare.core.policies import POLICIES, Policy
from fairshare.core.replay import apply
from fairshare.core.types import Allocation, GPUClass, Job, JobPhase, Node, Snapshot, Tenant, Throughput

__all__ = [
    "POLICIES", "Admit", "Allocation", "CycleResult", "Decision", "GPUClass", "Job", "JobPhase", "Node", "Policy",
    "Migrate", "PolicyConfig", "Preempt", "Resize", "Snapshot", "Tenant", "Throughput", "Wait", "apply", "schedule",
]
