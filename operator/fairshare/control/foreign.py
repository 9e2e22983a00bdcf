"""GPUs held by pods the operator did not create: shown per class, charged to the namespace's tenant, and named to
the job they displace.

A foreign pod (ownership.py) holds real GPUs: they are taken from its node's capacity before the core places
anything, shown in the GPUClass status as `foreign` (neither idle nor allocated) and, when its namespace belongs to
a Tenant, charged to that Tenant (its usage and its spend, at the class's current price: docs/api.md, "Pods the
operator did not create").
"""

from __future__ import annotations

from collections.abc import Mapping

from fairshare.api import Phase
from fairshare.control.ownership import ForeignPod
from fairshare.control.snapshot import World
from fairshare.core.ledger import Rate

HOLDING = (Phase.ADMITTED, Phase.RUNNING)


def foreign_on_nodes(world: World) -> dict[str, tuple[ForeignPod, ...]]:
    """node -> the foreign pods bound to it, by key."""
    out: dict[str, list[ForeignPod]] = {}
    for held in world.foreign:
        out.setdefault(held.node, []).append(held)
    return {node: tuple(sorted(pods, key=lambda p: p.key)) for node, pods in sorted(out.items())}


def foreign_by_class(world: World) -> dict[str, int]:
    """Rule: a class's foreign GPUs are, on each of its Ready, uncordoned nodes, the GPUs foreign pods hold there,
    at most the node's allocatable (what the class's capacity counts of that node); every class is listed."""
    out = {name: 0 for name in world.gpu_classes}
    for node, pods in foreign_on_nodes(world).items():
        gpu_class = world.node_class.get(node)
        if gpu_class is None or not world.node_usable(node):
            continue
        out[gpu_class] = out.get(gpu_class, 0) + min(world.node_capacity.get(node, 0), sum(p.gpus for p in pods))
    return out


def foreign_by_tenant(world: World) -> dict[tuple[str, str], int]:
    """Rule: a foreign pod in a namespace a Tenant owns is charged to that Tenant, as GPUs of its node's class;
    (tenant, class) -> GPUs. A pod on a node of no class, or in a namespace of no Tenant, is charged to nobody."""
    out: dict[tuple[str, str], int] = {}
    for held in world.foreign:
        tenant = world.namespace_tenant.get(held.namespace)
        gpu_class = world.node_class.get(held.node)
        if tenant is None or gpu_class is None:
            continue
        gpus = min(world.node_capacity.get(held.node, 0), held.gpus)
        out[(tenant, gpu_class)] = out.get((tenant, gpu_class), 0) + gpus
    return out


def foreign_gpus(world: World) -> dict[str, int]:
    """tenant -> the foreign GPUs it is charged for (in its usage)."""
    out: dict[str, int] = {}
    for (tenant, _), gpus in sorted(foreign_by_tenant(world).items()):
        out[tenant] = out.get(tenant, 0) + gpus
    return out


def foreign_rates(world: World, prices: Mapping[str, float]) -> dict[str, dict[str, Rate]]:
    """Rule: a foreign pod charged to a tenant (foreign_by_tenant) costs its GPUs at its node's class's current price
    (its list price before the core has one); tenant -> pod UID (its key if it has none) -> that rate, for the
    tenant's ledger (core/ledger.py, foreign_entries)."""
    out: dict[str, dict[str, Rate]] = {}
    for held in world.foreign:
        tenant = world.namespace_tenant.get(held.namespace)
        gpu_class = world.node_class.get(held.node)
        if tenant is None or gpu_class is None:
            continue
        price = prices.get(gpu_class)
        if price is None and gpu_class in world.gpu_classes:
            price = world.gpu_classes[gpu_class].spec.price_per_gpu_hour
        out.setdefault(tenant, {})[held.uid or held.key] = Rate(min(world.node_capacity.get(held.node, 0), held.gpus),
                                                                price or 0.0)
    return out


def displacing(world: World) -> dict[str, tuple[ForeignPod, ...]]:
    """Rule: foreign pods displace a gang on a node where they and the allocations of the Admitted and Running jobs
    there hold more GPUs than the node has (they came after the core placed those gangs); node -> those pods."""
    allocated: dict[str, int] = {}
    for view in world.jobs.values():
        model = view.model
        status = model.status if model else None
        if model is None or status is None or status.allocation is None or view.phase not in HOLDING:
            continue
        for node in status.allocation.nodes:
            allocated[node] = allocated.get(node, 0) + model.spec.gpus_per_worker
    out: dict[str, tuple[ForeignPod, ...]] = {}
    for node, pods in foreign_on_nodes(world).items():
        if allocated.get(node, 0) + sum(p.gpus for p in pods) > world.node_capacity.get(node, 0):
            out[node] = pods
    return out
