"""GPUs of pods the operator did not create: per class (neither idle nor allocated) and charged to the tenant."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import PatchStatus
from fairshare.control.foreign import displacing, foreign_by_class, foreign_by_tenant, foreign_gpus, foreign_rates
from fairshare.control.lifecycle import observe
from fairshare.control.snapshot import build_world
from fairshare.control.store import GPU_CLASSES, TENANTS
from fairshare.core.ledger import Rate
from tests.unit.control.builders import NOW, gpu_class, node, pod, store_of, tenant, training_job, ts, worker
from tests.unit.control.helpers import plan, told

CLUSTER = (gpu_class("a100").price(2.0), gpu_class("h100").price(4.0), tenant("nlp"),
           node("a0").gpu_class("a100").gpus(8), node("h0").gpu_class("h100").gpus(8))
RUNNING = training_job("nlp/run").gpus(4).phase("Running").allocation("a100", "a0")


@pytest.mark.parametrize(("bodies", "by_class", "by_tenant"), [
    pytest.param([], {"a100": 0, "h100": 0}, {}, id="no pods: nothing foreign"),
    pytest.param([RUNNING, worker("nlp/run", 0, node_name="a0", gpus=4)], {"a100": 0, "h100": 0}, {},
                 id="the operator's worker is the job's, not foreign"),
    pytest.param([RUNNING, pod("nlp/mine").job("run").generation(1).rank(0).on("a0").gpus(2).phase("Running")],
                 {"a100": 2, "h100": 0}, {("nlp", "a100"): 2},
                 id="a pod that only carries a running job's labels: foreign, charged to the namespace's tenant"),
    pytest.param([pod("other/x").on("h0").gpus(3).phase("Running")], {"a100": 0, "h100": 3}, {},
                 id="a pod in a namespace of no tenant: foreign, charged to nobody"),
    pytest.param([pod("nlp/big").on("h0").gpus(16).phase("Running")], {"a100": 0, "h100": 8}, {("nlp", "h100"): 8},
                 id="never more than the node has"),
    pytest.param([pod("nlp/done").on("h0").gpus(3).phase("Succeeded")], {"a100": 0, "h100": 0}, {},
                 id="a finished pod holds nothing"),
    pytest.param([node("h0").gpu_class("h100").gpus(8).cordoned(), pod("nlp/x").on("h0").gpus(3).phase("Running")],
                 {"a100": 0, "h100": 0}, {("nlp", "h100"): 3},
                 id="on a cordoned node: not in the class's capacity, so not in its foreign count; still charged"),
])
def test_foreign_gpus(bodies: list[Any], by_class: dict[str, int], by_tenant: dict[tuple[str, str], int]) -> None:
    world = build_world(store_of(*CLUSTER, *bodies), NOW)
    assert (foreign_by_class(world), foreign_by_tenant(world)) == (by_class, by_tenant)


def test_charges_at_the_current_price_else_the_list_price() -> None:
    world = build_world(store_of(*CLUSTER, pod("nlp/a").on("a0").gpus(2).phase("Running"),
                                 pod("nlp/h").on("h0").gpus(1).phase("Running")), NOW)
    assert (foreign_gpus(world), foreign_rates(world, {"a100": 1.5})) == (
        {"nlp": 3}, {"nlp": {"nlp/a": Rate(2, 1.5), "nlp/h": Rate(1, 4.0)}})  # by pod UID; by key for a pod with none


def _status(kind: str, name: str, actions: Any) -> dict[str, Any]:
    return next(a.status for a in actions if isinstance(a, PatchStatus) and a.kind == kind and a.key == name)


def test_status_shows_foreign_gpus_neither_idle_nor_allocated_and_the_tenant_is_charged() -> None:
    impostor = pod("nlp/mine").job("run").generation(1).rank(0).on("a0").gpus(2).phase("Running")
    actions = plan([*CLUSTER, RUNNING, worker("nlp/run", 0, node_name="a0", gpus=4), impostor]).actions
    a100 = _status(GPU_CLASSES, "a100", actions)
    nlp = _status(TENANTS, "nlp", actions)
    assert ({k: a100[k] for k in ("capacity", "allocated", "foreign", "idle")}, nlp["allocated"], nlp["foreign"]) == (
        {"capacity": 8, "allocated": 4, "foreign": 2, "idle": 2}, {"a100": 4}, {"a100": 2})


def test_an_hour_of_a_foreign_pod_is_charged_to_the_tenant_at_the_class_price() -> None:
    """Usage and spend count a foreign pod in the tenant's namespace as if it were one of its jobs, at the current
    price of its node's class (no job: no bid, no job charge to read)."""
    metered = {"decayedUsageGPUHours": 0.0, "spendThisPeriod": 1.0, "periodStart": ts(7200),
               "usageUpdatedAt": ts(3600), "ledger": {"closedCredits": 1.0, "foreignChargedThrough": ts(3600)}}
    bodies = [*CLUSTER[:2], tenant("nlp").status(**metered), *CLUSTER[3:],
              pod("nlp/mine").on("h0").gpus(3).phase("Running")]
    actions = plan(bodies, scheduler=told(prices={"a100": 1.5, "h100": 3.0})).actions
    nlp = _status(TENANTS, "nlp", actions)
    assert (nlp["spendThisPeriod"], nlp["foreign"], nlp["allocatedGPUs"]) == (1.0 + 3 * 3.0, {"h100": 3}, 0)
    assert nlp["ledger"]["jobs"] == {"nlp/mine": 3 * 3.0}  # under the pod's UID (here, with none, its key)


# --- a gang displaced by a foreign pod -----------------------------------------------------------------------------

NO_GPUS = "0/20 nodes are available: 1 Insufficient nvidia.com/gpu, 19 node(s) didn't match Pod's node affinity."
ADMITTED = training_job("nlp/j").rv(7).workers(2).gpus(4).phase("Admitted").allocation("a100", "a0", "a1")
BESIDE = training_job("nlp/k").gpus(4).phase("Running").allocation("a100", "a1")
TWO_NODES = (gpu_class("a100"), tenant("nlp"), node("a0").gpu_class("a100").gpus(8),
             node("a1").gpu_class("a100").gpus(8))


def _gang(rank1_message: str | None = NO_GPUS) -> list[Any]:
    stuck = worker("nlp/j", 1, phase="Pending")
    return [ADMITTED, worker("nlp/j", 0, node_name="a0", gpus=4),
            stuck.unschedulable(rank1_message, since=5) if rank1_message else stuck]


@pytest.mark.parametrize(("bodies", "displaced", "want"), [
    pytest.param([*_gang(), BESIDE, worker("nlp/k", 0, node_name="a1", gpus=4),
                  pod("cv/sneaky").on("a1").gpus(1).phase("Running")], {"a1": ["cv/sneaky"]},
                 ("ForeignPod", "worker j-worker-1 cannot get its GPUs on node a1: pod cv/sneaky (1 GPU), which the "
                                "operator did not create, took them after the gang was placed; requeued to be placed "
                                "again"),
                 id="a pod took a GPU the gang was placed on: requeued at once, naming it"),
    pytest.param([*_gang(), pod("cv/small").on("a1").gpus(4).phase("Running")], {}, None,
                 id="a foreign pod that leaves room for the gang: no one displaced (waits as before)"),
    pytest.param([*_gang(), BESIDE, worker("nlp/k", 0, node_name="a1", gpus=4),
                  pod("cv/on-a0").on("a0").gpus(8).phase("Running")], {"a0": ["cv/on-a0"]}, None,
                 id="the displaced node is not the stuck worker's: the stuck worker waits"),
    pytest.param([*_gang(None), BESIDE, worker("nlp/k", 0, node_name="a1", gpus=4),
                  pod("cv/sneaky").on("a1").gpus(1).phase("Running")], {"a1": ["cv/sneaky"]}, None,
                 id="not marked unschedulable yet: nothing"),
])
def test_a_gang_displaced_by_a_foreign_pod_is_requeued_naming_it(
        bodies: list[Any], displaced: dict[str, list[str]], want: tuple[str, str] | None) -> None:
    world = build_world(store_of(*TWO_NODES, *bodies), NOW)
    found = {node: [p.key for p in pods] for node, pods in displacing(world).items()}
    transition = observe(world.jobs["nlp/j"], NOW, displaced=displacing(world))
    got = None
    if transition is not None:
        patch = next(a for a in transition.actions if isinstance(a, PatchStatus))
        got = (patch.status["conditions"][0]["reason"], patch.status["queue"]["reason"])
        assert (patch.status["phase"], transition.releases_gpus) == ("Queued", True)
    assert (found, got) == (displaced, want)


@pytest.mark.parametrize("namespace", [
    pytest.param("other", id="a namespace no Tenant lists"),
    pytest.param("kube-system", id="a system namespace"),
])
def test_a_foreign_pod_in_a_namespace_of_no_tenant_takes_capacity_shows_as_foreign_and_is_charged_to_nobody(
        namespace: str) -> None:
    """docs/api.md, "Pods the operator did not create": counted against its node's capacity (the core sees 3 fewer
    GPUs there), shown as foreign in the GPUClass status, and in no Tenant's foreign GPUs or spend."""
    bodies = [*CLUSTER, pod(f"{namespace}/x").on("h0").gpus(3).phase("Running")]
    world = build_world(store_of(*bodies), NOW)
    actions = plan(bodies).actions
    h100, nlp = _status(GPU_CLASSES, "h100", actions), _status(TENANTS, "nlp", actions)
    assert ({n.name: n.gpus for n in world.snapshot.nodes}, {k: h100[k] for k in ("capacity", "foreign", "idle")},
            foreign_by_tenant(world), nlp.get("foreign") or {}, nlp["spendThisPeriod"]) == (
        {"a0": 8, "h0": 5}, {"capacity": 8, "foreign": 3, "idle": 5}, {}, {}, 0.0)
