"""Fluent builders for the core's types, e.g. job("nlp/a").gpus(4).workers(2).classes("a100").obj().

Shared by the unit tests of the core, the simulator and the operator: defaults are the boring case, and
each method says only what a test cares about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from fairshare.core.types import Allocation, GPUClass, Job, JobPhase, Node, Snapshot, Tenant, Throughput


class GPUClassBuilder:
    """gpu_class("a100").price(4).speed(2).obj()"""

    def __init__(self, name: str) -> None:
        self._c = GPUClass(name, price_per_gpu_hour=1.0, power_watts=300.0)

    def price(self, credits_per_gpu_hour: float) -> GPUClassBuilder:
        self._c = replace(self._c, price_per_gpu_hour=credits_per_gpu_hour)
        return self

    def power(self, watts: float) -> GPUClassBuilder:
        self._c = replace(self._c, power_watts=watts)
        return self

    def speed(self, relative_speed: float) -> GPUClassBuilder:
        self._c = replace(self._c, relative_speed=relative_speed)
        return self

    def obj(self) -> GPUClass:
        return self._c


class NodeBuilder:
    """node("a100-0").of("a100").gpus(8).cordoned().obj()"""

    def __init__(self, name: str) -> None:
        self._n = Node(name, gpu_class="gpu", gpus=8)

    def of(self, gpu_class: str) -> NodeBuilder:
        self._n = replace(self._n, gpu_class=gpu_class)
        return self

    def gpus(self, count: int) -> NodeBuilder:
        self._n = replace(self._n, gpus=count)
        return self

    def cordoned(self) -> NodeBuilder:
        self._n = replace(self._n, schedulable=False)
        return self

    def obj(self) -> Node:
        return self._n


class TenantBuilder:
    """tenant("nlp").weight(2).guarantee(a100=4).borrowing(a100=2).budget(100).obj()"""

    def __init__(self, name: str) -> None:
        self._t = Tenant(name)

    def weight(self, weight: float) -> TenantBuilder:
        self._t = replace(self._t, weight=weight)
        return self

    def guarantee(self, **per_class: int) -> TenantBuilder:
        self._t = replace(self._t, guaranteed={**self._t.guaranteed, **per_class})
        return self

    def borrowing(self, **per_class: int) -> TenantBuilder:
        self._t = replace(self._t, borrowing_limit={**(self._t.borrowing_limit or {}), **per_class})
        return self

    def budget(self, credits: float, spent: float = 0.0) -> TenantBuilder:
        self._t = replace(self._t, budget_per_period=credits, spent_this_period=spent)
        return self

    def usage(self, decayed_gpu_hours: float) -> TenantBuilder:
        self._t = replace(self._t, decayed_usage_gpu_hours=decayed_gpu_hours)
        return self

    def obj(self) -> Tenant:
        return self._t


class JobBuilder:
    """job("nlp/a").workers(2, 4).gpus(4).classes("a100").priority(1).bid(2.0).running("a100", "a100-0").obj()

    The tenant defaults to the key's namespace.
    """

    def __init__(self, key: str) -> None:
        self._j = Job(key, tenant=key.split("/")[0], min_workers=1, max_workers=1, gpus_per_worker=1)

    def tenant(self, name: str) -> JobBuilder:
        self._j = replace(self._j, tenant=name)
        return self

    def workers(self, minimum: int, maximum: int | None = None) -> JobBuilder:
        self._j = replace(self._j, min_workers=minimum, max_workers=maximum if maximum is not None else minimum)
        return self

    def gpus(self, per_worker: int) -> JobBuilder:
        self._j = replace(self._j, gpus_per_worker=per_worker)
        return self

    def classes(self, *names: str) -> JobBuilder:
        self._j = replace(self._j, gpu_classes=tuple(names))
        return self

    def priority(self, priority: int) -> JobBuilder:
        self._j = replace(self._j, priority=priority)
        return self

    def non_preemptible(self) -> JobBuilder:
        self._j = replace(self._j, preemptible=False)
        return self

    def bid(self, max_price_per_gpu_hour: float) -> JobBuilder:
        self._j = replace(self._j, max_price_per_gpu_hour=max_price_per_gpu_hour)
        return self

    def submitted(self, at: float) -> JobBuilder:
        self._j = replace(self._j, submitted_at=at)
        return self

    def running(self, gpu_class: str, *nodes: str, started: float = 0.0, checkpoint: float | None = None,
                opportunistic: bool = False) -> JobBuilder:
        """Running on `nodes`, one per worker (workers = len(nodes))."""
        alloc = Allocation(gpu_class, len(nodes), tuple(nodes), started, checkpoint, opportunistic)
        self._j = replace(self._j, phase=JobPhase.RUNNING, allocation=alloc)
        return self

    def attained(self, gpu_hours: float) -> JobBuilder:
        """GPU-hours held in earlier allocations (attained service)."""
        self._j = replace(self._j, attained_gpu_hours=gpu_hours)
        return self

    def terminal(self) -> JobBuilder:
        self._j = replace(self._j, phase=JobPhase.TERMINAL, allocation=None)
        return self

    def obj(self) -> Job:
        return self._j


def gpu_class(name: str) -> GPUClassBuilder:
    return GPUClassBuilder(name)


def node(name: str) -> NodeBuilder:
    return NodeBuilder(name)


def tenant(name: str) -> TenantBuilder:
    return TenantBuilder(name)


def job(key: str) -> JobBuilder:
    return JobBuilder(key)


class ClusterBuilder:
    """cluster().gpus("a100", nodes=2, per_node=8, price=4, speed=2).tenants(...).jobs(...).obj()

    Nodes added by gpus() are named "<class>-<i>".
    """

    def __init__(self) -> None:
        self._classes: dict[str, GPUClass] = {}
        self._nodes: list[Node] = []
        self._tenants: list[Tenant] = []
        self._jobs: list[Job] = []
        self._throughputs: list[Throughput] = []

    def gpus(self, name: str, nodes: int = 1, per_node: int = 8, price: float = 1.0, speed: float = 1.0,
             power: float = 300.0) -> ClusterBuilder:
        self._classes[name] = GPUClass(name, price, power, speed)
        start = sum(1 for n in self._nodes if n.gpu_class == name)
        self._nodes.extend(Node(f"{name}-{start + i}", name, per_node) for i in range(nodes))
        return self

    def nodes(self, *items: Node | NodeBuilder) -> ClusterBuilder:
        self._nodes.extend(n.obj() if isinstance(n, NodeBuilder) else n for n in items)
        return self

    def classes(self, *items: GPUClass | GPUClassBuilder) -> ClusterBuilder:
        for c in items:
            built = c.obj() if isinstance(c, GPUClassBuilder) else c
            self._classes[built.name] = built
        return self

    def tenants(self, *items: Tenant | TenantBuilder | str) -> ClusterBuilder:
        self._tenants.extend(Tenant(t) if isinstance(t, str) else t.obj() if isinstance(t, TenantBuilder) else t
                             for t in items)
        return self

    def jobs(self, *items: Job | JobBuilder | Iterable[Job | JobBuilder]) -> ClusterBuilder:
        for item in items:
            if isinstance(item, Job | JobBuilder):
                self._jobs.append(item.obj() if isinstance(item, JobBuilder) else item)
            else:
                self.jobs(*item)
        return self

    def throughput(self, job_key: str, gpu_class: str, workers: int, samples_per_second: float) -> ClusterBuilder:
        self._throughputs.append(Throughput(job_key, gpu_class, workers, samples_per_second))
        return self

    def obj(self) -> Snapshot:
        return Snapshot(tuple(self._classes.values()), tuple(self._nodes), tuple(self._tenants), tuple(self._jobs),
                        tuple(self._throughputs))


def cluster() -> ClusterBuilder:
    return ClusterBuilder()
