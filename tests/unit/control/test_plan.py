"""plan_cycle with the real core: admission, waiting, invalid and unbound jobs, terminal jobs, and no write storms."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import EnsureChildren, PatchStatus
from fairshare.control.store import TRAINING_JOBS
from fairshare.core.decisions import Admit, Wait
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, ts, worker
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import of_kind, pinned_nodes, plan, rows

CLUSTER = [gpu_class("a100").price(2.5).power(400), tenant("nlp").guaranteed(a100=8),
           node("a100-000").gpu_class("a100").gpus(8), node("a100-001").gpu_class("a100").gpus(8)]


@pytest.mark.parametrize(("workers", "gpus"), [
    pytest.param(1, 8, id="one worker, a whole node"),
    pytest.param(2, 4, id="two workers of 4 GPUs"),
    pytest.param(2, 8, id="two workers of 8 GPUs, one node each"),
])
def test_pending_job_within_its_guarantee_is_admitted_with_pinned_children(workers: int, gpus: int) -> None:
    result = plan([*CLUSTER, training_job("nlp/bert").workers(workers).gpus(gpus).rv(41)])
    [admit] = result.result.decisions
    assert isinstance(admit, Admit)
    patch, ensure = of_kind(result.actions, PatchStatus)[0], of_kind(result.actions, EnsureChildren)[0]
    assert rows(result.actions, "nlp/bert") == [
        ("patch", "nlp/bert", "Admitted", "41"),
        ("ensure", "nlp/bert", tuple(f"bert-worker-{r}" for r in range(workers))),
        ("event", "nlp/bert", "Normal", "Admitted")]
    assert (patch.status["allocation"], patch.status["tenant"], patch.status["queue"],
            patch.status["cost"]) == (
        {"gpuClass": "a100", "workers": workers, "gpus": workers * gpus, "nodes": list(admit.nodes),
         "pricePerGPUHour": round(admit.price_per_gpu_hour, 6), "admittedAt": ts(0), "generation": 1,
         "opportunistic": False, "priority": 0},
        "nlp", None, {"accruedAt": ts(0)})
    assert pinned_nodes(ensure) == list(admit.nodes)
    assert [p["metadata"]["labels"]["fairshare.dev/generation"] for p in ensure.pods] == ["1"] * workers
    assert {p["spec"]["nodeSelector"]["fairshare.dev/gpu-class"] for p in ensure.pods} == {"a100"}
    # A headless Service only where there is more than one worker to resolve.
    assert (ensure.service or {}).get("metadata", {}).get("name") == ("bert" if workers > 1 else None)


def test_admission_conditions() -> None:
    result = plan([*CLUSTER, training_job("nlp/bert").gpus(8)])
    [admit] = result.result.decisions
    assert isinstance(admit, Admit)
    message = f"admitted 1 x 8 a100 GPUs within its tenant's share at {admit.price_per_gpu_hour:.3f} credits/GPU-hour"
    assert of_kind(result.actions, PatchStatus)[0].status["conditions"] == [
        {"type": "Admitted", "status": "True", "reason": "Admitted", "message": message, "lastTransitionTime": ts(0)},
        {"type": "Preempted", "status": "False", "reason": "Admitted", "message": message,
         "lastTransitionTime": ts(0)}]


def test_readmission_after_preemption_is_a_new_generation() -> None:
    """After a restart the allocation is cleared, so generations start again at 1; the old pods are gone by then."""
    result = plan([*CLUSTER, training_job("nlp/bert").gpus(8).phase("Queued").restarts(1)])
    [ensure] = of_kind(result.actions, EnsureChildren)
    assert ensure.pods[0]["metadata"]["labels"]["fairshare.dev/generation"] == "1"


def test_job_too_big_for_any_node_waits_and_a_second_cycle_writes_nothing() -> None:
    store = store_of(*CLUSTER, training_job("nlp/huge").gpus(16))
    first = plan(store)
    [wait] = first.result.decisions
    assert isinstance(wait, Wait)
    patch = of_kind(first.actions, PatchStatus)[0]
    queue = patch.status["queue"]
    assert (rows(first.actions, "nlp/huge"), queue["position"], queue["reasonCode"], patch.status["tenant"]) == (
        [("patch", "nlp/huge", "Queued", None)], 0, "TooBig", "nlp")
    assert "cannot fit" in patch.status["queue"]["reason"] and "largest 8 GPUs" in patch.status["queue"]["reason"]
    FakeCluster(store).apply(first.actions)
    second = plan(store, NOW + 10)
    assert (second.result.decisions, second.actions) == (first.result.decisions, ())


def test_waiting_job_is_rewritten_when_its_reason_changes() -> None:
    job = training_job("nlp/huge").gpus(16).phase("Queued").status(queue={"position": 1, "reason": "stale"},
                                                                    tenant="nlp")
    assert rows(plan([*CLUSTER, job]).actions, "nlp/huge") == [("patch", "nlp/huge", "Queued", None)]


def test_invalid_job_is_failed_once_naming_the_field() -> None:
    store = store_of(*CLUSTER, training_job("nlp/bad").workers(3, 2))
    first = plan(store)
    message = "invalid spec: spec.workers.min: workers.min (3) must be <= workers.max (2); lower min or raise max"
    assert rows(first.actions, "nlp/bad") == [("patch", "nlp/bad", "Failed", None),
                                              ("event", "nlp/bad", "Warning", "InvalidSpec")]
    assert of_kind(first.actions, PatchStatus)[0].status == {
        "phase": "Failed", "completionTime": ts(0),
        "conditions": [{"type": "Finished", "status": "True", "reason": "InvalidSpec", "message": message,
                        "lastTransitionTime": ts(0)}]}
    FakeCluster(store).apply(first.actions)
    assert rows(plan(store, NOW + 10).actions, "nlp/bad") == []


def test_job_in_unbound_namespace_is_queued_with_no_tenant_once() -> None:
    store = store_of(*CLUSTER, training_job("vision/x"))
    first = plan(store)
    problem = "namespace vision belongs to no Tenant; an admin must add it to a Tenant's spec.namespaces"
    assert of_kind(first.actions, PatchStatus)[0] == PatchStatus(TRAINING_JOBS, "vision/x", {
        "phase": "Queued", "queue": {"position": None, "reasonCode": "NoTenant", "reason": problem, "since": ts(0)},
        "conditions": [{"type": "Admitted", "status": "False", "reason": "NoTenant", "message": problem,
                        "lastTransitionTime": ts(0)}]})
    FakeCluster(store).apply(first.actions)
    assert rows(plan(store, NOW + 10).actions, "vision/x") == []


STOP_LIVE_POD = [("delete", "nlp/done", ("done-worker-1",))]


@pytest.mark.parametrize(("job", "want"), [
    pytest.param(training_job("nlp/done").gpus(8).phase("Succeeded").allocation("a100", "a100-000")
                 .cost(10, 4, accrued_ago=7200), STOP_LIVE_POD, id="Succeeded with an allocation and old cost"),
    pytest.param(training_job("nlp/done").gpus(8).phase("Failed").allocation("a100", "a100-000")
                 .backoff_limit(0), STOP_LIVE_POD, id="Failed"),
    pytest.param(training_job("nlp/done").workers(3, 2).phase("Failed"), [],
                 id="Failed for an invalid spec: its pods are not judged"),
])
def test_terminal_job_gets_no_status_write_and_no_charges_only_its_live_pods_stopped(job: Any, want: Any) -> None:
    """A terminal job keeps its finished pods (for their logs); a live one (the operator stopped between the finishing
    write and the deletion) is deleted; nothing else is written."""
    pods = [worker("nlp/done", 0, phase="Failed", node_name="a100-000", gpus=8),
            worker("nlp/done", 1, phase="Running", node_name="a100-001", gpus=8)]
    result = plan([*CLUSTER, job, *pods])
    assert (rows(result.actions, "nlp/done"), dict(result.result.charges), result.result.decisions) == (want, {}, ())


def test_running_job_is_charged_by_the_core_price_since_accrued_at() -> None:
    job = (training_job("nlp/run").gpus(8).phase("Running").allocation("a100", "a100-000", admitted_ago=7200)
           .started(7000).cost(credits=1.0, gpu_hours=2.0, energy_kwh=0.5, accrued_ago=1800))
    result = plan([*CLUSTER, job, worker("nlp/run", 0, node_name="a100-000", gpus=8)])
    price = result.result.charges["nlp/run"]
    [patch] = [a for a in of_kind(result.actions, PatchStatus) if a.key == "nlp/run"]
    assert patch == PatchStatus(TRAINING_JOBS, "nlp/run", {"cost": {
        "credits": round(1.0 + price * 8 * 0.5, 6), "gpuHours": 6.0, "energyKWh": round(0.5 + 8 * 400 * 0.5 / 1000, 6),
        "periodCredits": round(price * 8 * 0.5, 6), "accruedAt": ts(0), "periodStart": ts(0)},
        "allocation": {"pricePerGPUHour": price}}, "1")


def test_a_job_that_just_started_running_still_counts_against_its_tenant() -> None:
    """Admitted -> Running keeps the job's GPUs: the tenant may not borrow past its limit in that same cycle."""
    bodies = [*CLUSTER[:1], tenant("nlp").guaranteed(a100=8).borrowing(a100=0), *CLUSTER[2:],
              training_job("nlp/a").gpus(8).phase("Admitted").allocation("a100", "a100-000"),
              training_job("nlp/b").gpus(8)]
    starting = plan([*bodies, worker("nlp/a", 0, phase="Running", node_name="a100-000", gpus=8)])
    waiting = plan([*bodies, worker("nlp/a", 0, phase="Pending", node_name="a100-000", gpus=8)])
    assert ([type(d).__name__ for d in starting.result.decisions], starting.transitioned) == (["Wait"], {"nlp/a"})
    assert starting.result.decisions == waiting.result.decisions


def test_gpu_class_and_tenant_status_written_when_changed_only() -> None:
    store = store_of(*CLUSTER, training_job("nlp/run").gpus(8).phase("Running").allocation("a100", "a100-000")
                     .cost(accrued_ago=0), worker("nlp/run", 0, node_name="a100-000", gpus=8))
    first = plan(store)
    statuses = {a.key: a.status for a in of_kind(first.actions, PatchStatus) if a.kind != TRAINING_JOBS}
    price = first.result.prices["a100"]
    assert statuses == {
        "a100": {"capacity": 16, "allocated": 8, "foreign": 0, "idle": 8, "currentPricePerGPUHour": round(price, 6)},
        "nlp": {"allocated": {"a100": 8}, "allocatedGPUs": 8,
                "fairShare": {"a100": round(first.result.fair_shares["nlp"]["a100"], 3)},
                "shareRatio": round(first.result.share_ratios["nlp"], 2), "spendThisPeriod": 0.0,
                "decayedUsageGPUHours": 0.0, "periodStart": ts(0), "usageUpdatedAt": ts(0),
                "ledger": {"closedCredits": 0.0, "jobs": {}}}}
    FakeCluster(store).apply(first.actions)
    assert plan(store, NOW + 10).actions == ()


@pytest.mark.parametrize("job", [
    pytest.param(training_job("nlp/late").gpus(8).phase("Queued").deadline(600).started(3600),
                 id="a tenant's queued job"),
    pytest.param(training_job("vision/late").gpus(8).phase("Queued").deadline(600).started(3600),
                 id="a queued job whose namespace lost its tenant"),
])
def test_a_queued_job_past_its_deadline_fails_and_is_neither_admitted_nor_requeued(job: Any) -> None:
    key = job.body()["metadata"]["namespace"] + "/late"
    result = plan([*CLUSTER, job])
    [patch] = [a for a in of_kind(result.actions, PatchStatus) if a.key == key]
    assert (result.result.decisions, rows(result.actions, key), result.transitioned) == (
        (), [("patch", key, "Failed", "1"), ("event", key, "Warning", "DeadlineExceeded")], {key})
    assert patch.status["conditions"][0]["reason"] == "DeadlineExceeded"


def _ran(pod: Any, started_ago: float | None, state: str = "terminated") -> Any:
    """The worker's container `state`, started `started_ago` seconds before NOW (None: still waiting)."""
    container = ({"waiting": {"reason": "ContainerCreating"}} if started_ago is None
                 else {state: {"startedAt": ts(started_ago), **({"exitCode": 0} if state == "terminated" else {})}})
    body = pod.body()
    body["status"]["containerStatuses"] = [{"name": "trainer", "state": container}]
    return body


@pytest.mark.parametrize(("phase", "started_ago", "want_seconds"), [
    pytest.param("Succeeded", 40.0, 40.0, id="ran 40 s between two cycles, never seen Running: charged 40 s"),
    pytest.param("Running", 90.0, 90.0, id="preempted while seen Admitted, its container running 90 s: charged"),
    pytest.param("Succeeded", None, None, id="no container ever started: not charged"),
    pytest.param("Succeeded", 900.0, 300.0, id="a start before its admission (a wrong node clock): from admission"),
])
def test_a_gang_released_before_it_was_seen_running_is_charged_from_its_containers_start(
        phase: str, started_ago: float | None, want_seconds: float | None) -> None:
    """Charging starts at the Running transition; a gang whose pods started and ended between two cycles was never
    seen Running, and without its containers' own start times it ran uncharged."""
    job = training_job("nlp/quick").gpus(8).phase("Admitted").allocation("a100", "a100-000", admitted_ago=300,
                                                                         price=2.0)
    pod = worker("nlp/quick", 0, phase=phase, node_name="a100-000", gpus=8)
    if phase == "Running":  # a deleted Tenant stops it: the release path of a gang the operator saw only Admitted
        bodies = [CLUSTER[0], *CLUSTER[2:], job, _ran(pod, started_ago, "running")]
    else:
        bodies = [*CLUSTER, job, _ran(pod, started_ago)]
    result = plan(bodies)
    charged = [a for a in of_kind(result.actions, PatchStatus) if a.key == "nlp/quick" and "cost" in a.status]
    if want_seconds is None:
        assert not any(a.status["cost"].get("credits") for a in charged)
        return
    [patch] = charged
    assert patch.status["cost"]["gpuHours"] == pytest.approx(8 * want_seconds / 3600, abs=1e-6)
    assert patch.status["cost"]["credits"] == pytest.approx(2.0 * 8 * want_seconds / 3600, abs=1e-6)
