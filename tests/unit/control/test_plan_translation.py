"""plan_cycle with a scheduler told what to decide: how each decision, charge and status becomes actions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fairshare.control import cost
from fairshare.control.actions import DeletePods, EnsureChildren, PatchStatus, RecordEvent
from fairshare.control.ledger import departed_charges
from fairshare.control.snapshot import build_world
from fairshare.control.store import GPU_CLASSES, TENANTS, TRAINING_JOBS
from fairshare.control.tenant_status import merge_patch_map
from fairshare.core import types as core
from fairshare.core.decisions import Admit, Migrate, Preempt, Resize, Wait
from fairshare.core.ledger import CLOSED_GRACE_SECONDS as GRACE_SECONDS
from tests.unit.control.builders import NOW, JobBuilder, gpu_class, node, store_of, tenant, training_job, ts, worker
from tests.unit.control.helpers import of_kind, pinned_nodes, plan, rows, told

CLUSTER = [gpu_class("a100").price(2.0).power(500), tenant("nlp").guaranteed(a100=8)] + [
    node(f"n{i}").gpu_class("a100").gpus(8) for i in range(3)]


def running_job(workers: int = 1, generation: int = 1, opportunistic: bool = False) -> JobBuilder:
    nodes = [f"n{i}" for i in range(workers)]
    return (training_job("nlp/j").workers(1, 3).gpus(8).rv(77).phase("Running").started(3000)
            .allocation("a100", *nodes, generation=generation, opportunistic=opportunistic)
            .cost(accrued_ago=0).status(conditions=[
                {"type": "Admitted", "status": "True", "reason": "Admitted", "message": "in",
                 "lastTransitionTime": ts(3000)},
                {"type": "Running", "status": "True", "reason": "AllWorkersRunning", "message": "up",
                 "lastTransitionTime": ts(2900)}]))


def gang(workers: int = 1) -> list[Any]:
    """The running pods of running_job(workers)."""
    return [worker("nlp/j", r, node_name=f"n{r}", gpus=8) for r in range(workers)]


def job_actions(bodies: list[Any], *decisions: Any, **numbers: Any) -> list[Any]:
    return [a for a in plan([*CLUSTER, *bodies], scheduler=told(*decisions, **numbers)).actions
            if getattr(a, "key", None) == "nlp/j" or getattr(a, "job_key", None) == "nlp/j"]


def test_preempt_patches_conditionally_deletes_every_pod_and_warns() -> None:
    reason = "tenant cv reclaims its guarantee of a100"
    pods = [worker("nlp/j", 0, node_name="n0", gpus=8), worker("nlp/j", 1, phase="Pending", node_name="n1", gpus=8)]
    actions = job_actions([running_job(2), *pods], Preempt("nlp/j", reason))
    assert actions == [
        PatchStatus(TRAINING_JOBS, "nlp/j", {"phase": "Preempted", "conditions": [
            {"type": "Admitted", "status": "False", "reason": "Preempted", "message": reason,
             "lastTransitionTime": ts(0)},
            {"type": "Preempted", "status": "True", "reason": "Preempted", "message": reason,
             "lastTransitionTime": ts(0)},
            {"type": "Running", "status": "False", "reason": "Preempted", "message": reason,
             "lastTransitionTime": ts(0)}]}, "77"),
        DeletePods("nlp/j", ("j-worker-0", "j-worker-1")),
        RecordEvent("nlp/j", "Warning", "Preempted", reason)]


def test_preempt_of_a_job_with_no_pods_deletes_nothing() -> None:
    assert [type(a).__name__ for a in job_actions([running_job().phase("Admitted")], Preempt("nlp/j", "r"))] == [
        "PatchStatus", "RecordEvent"]


@pytest.mark.parametrize(("old_workers", "new_nodes", "opportunistic", "want_message"), [
    pytest.param(1, ("n0", "n1"), False, "resized from 1 to 2 workers on a100: marginal speed-up beats price",
                 id="grow"),
    pytest.param(3, ("n0",), True, "resized from 3 to 1 workers on a100: marginal speed-up beats price",
                 id="shrink, opportunistic kept"),
])
def test_resize_starts_a_new_generation(old_workers: int, new_nodes: tuple[str, ...], opportunistic: bool,
                                        want_message: str) -> None:
    pods = [worker("nlp/j", r, node_name=f"n{r}", gpus=8) for r in range(old_workers)]
    decision = Resize("nlp/j", len(new_nodes), new_nodes, 1.25, "marginal speed-up beats price")
    actions = job_actions([running_job(old_workers, opportunistic=opportunistic), *pods], decision)
    patch, delete, ensure, event = actions
    assert patch == PatchStatus(TRAINING_JOBS, "nlp/j", {
        "phase": "Admitted", "samplesPerSecond": None,
        "allocation": {"gpuClass": "a100", "workers": len(new_nodes), "gpus": 8 * len(new_nodes),
                       "nodes": list(new_nodes), "pricePerGPUHour": 1.25, "admittedAt": ts(0), "generation": 2,
                       "opportunistic": opportunistic, "priority": 0},
        "conditions": [
            {"type": "Admitted", "status": "True", "reason": "Admitted", "message": "in",
             "lastTransitionTime": ts(3000)},
            {"type": "Running", "status": "False", "reason": "Resizing", "message": want_message,
             "lastTransitionTime": ts(0)}]}, "77")
    assert delete == DeletePods("nlp/j", tuple(f"j-worker-{r}" for r in range(old_workers)))
    assert isinstance(ensure, EnsureChildren)
    assert (pinned_nodes(ensure), [p["metadata"]["labels"]["fairshare.dev/generation"] for p in ensure.pods]) == (
        list(new_nodes), ["2"] * len(new_nodes))
    assert event == RecordEvent("nlp/j", "Normal", "Resized", want_message)


def test_opportunistic_admission_is_recorded_and_explained() -> None:
    actions = job_actions([training_job("nlp/j").gpus(8)], Admit("nlp/j", "a100", 1, ("n2",), 0.4, True))
    patch, _, event = actions
    assert (patch.status["allocation"]["opportunistic"], event.message) == (
        True, "admitted 1 x 8 a100 GPUs on idle capacity (preemptible, floor price) at 0.400 credits/GPU-hour")


def test_an_admission_by_fair_sharing_preemption_names_whom_it_took_from() -> None:
    reason = ("admitted by fair-sharing preemption on a100: tenant nlp was at 0.20x its fair share, below tenant "
              "vision at 1.40x; took GPUs from vision/old")
    actions = job_actions([training_job("nlp/j").gpus(8)], Admit("nlp/j", "a100", 1, ("n2",), 2.0, False, reason))
    patch, _, event = actions
    assert event.message == f"admitted 1 x 8 a100 GPUs within its tenant's share at 2.000 credits/GPU-hour; {reason}"
    assert patch.status["conditions"][0]["message"] == event.message


def queued(position: int) -> dict[str, Any]:
    return {"position": position, "reasonCode": "WaitingForShare", "reason": "behind", "since": ts(60)}


@pytest.mark.parametrize(("status", "want"), [
    pytest.param({}, [("patch", "nlp/j", "Queued", None)], id="first wait: written"),
    pytest.param({"phase": "Queued", "tenant": "nlp", "queue": queued(2)}, [],
                 id="same position and reason: nothing"),
    pytest.param({"phase": "Queued", "tenant": "nlp", "queue": queued(3)},
                 [("patch", "nlp/j", "Queued", None)], id="position moved: written"),
    pytest.param({"phase": "Queued", "tenant": "old", "queue": queued(2)},
                 [("patch", "nlp/j", "Queued", None)], id="tenant changed: written"),
])
def test_wait_writes_only_changes(status: dict[str, Any], want: list[Any]) -> None:
    conditions = [{"type": "Admitted", "status": "False", "reason": "Waiting", "message": "behind",
                   "lastTransitionTime": ts(60)}]
    job = training_job("nlp/j").status(**status, **({"conditions": conditions} if status else {}))
    assert rows(job_actions([job], Wait("nlp/j", "behind", 2, "WaitingForShare"))) == want


# --- cost accrual ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("job", "charge", "want_cost"), [
    pytest.param(running_job().cost(credits=10, gpu_hours=1, energy_kwh=2, accrued_ago=3600), 2.0,
                 {"credits": 26.0, "gpuHours": 9.0, "energyKWh": 6.0, "periodCredits": 16.0, "accruedAt": ts(0),
                  "periodStart": ts(0)},
                 id="an hour since accruedAt: price x GPUs x hours, plus energy"),
    pytest.param(running_job(2).cost(accrued_ago=900), 3.0,
                 {"credits": 12.0, "gpuHours": 4.0, "energyKWh": 2.0, "periodCredits": 12.0, "accruedAt": ts(0),
                  "periodStart": ts(0)},
                 id="a quarter hour on 16 GPUs"),
    pytest.param(running_job().cost(accrued_ago=30), 3.6,
                 {"credits": 0.24, "gpuHours": round(8 * 30 / 3600, 6), "energyKWh": round(4 * 30 / 3600, 6),
                  "periodCredits": 0.24, "accruedAt": ts(0), "periodStart": ts(0)}, id="exactly 30 s: charged"),
    pytest.param(running_job().cost(accrued_ago=29), 2.0, None, id="under 30 s: nothing"),
    pytest.param(running_job().cost(accrued_ago=0), 2.0, None, id="already accrued now: idempotent"),
    pytest.param(running_job().status(cost=None).allocation("a100", "n0", admitted_ago=1800), 1.0,
                 {"credits": 4.0, "gpuHours": 4.0, "energyKWh": 2.0, "periodCredits": 4.0, "accruedAt": ts(0),
                  "periodStart": ts(0)},
                 id="never accrued: from admittedAt"),
])
def test_accrual(job: JobBuilder, charge: float, want_cost: dict[str, Any] | None) -> None:
    workers = len(job.body()["status"]["allocation"]["nodes"])
    actions = job_actions([job, *gang(workers)], charges={"nlp/j": charge})
    want = {"cost": want_cost, "allocation": {"pricePerGPUHour": charge}}
    assert actions == ([PatchStatus(TRAINING_JOBS, "nlp/j", want, "77")] if want_cost else [])


@pytest.mark.parametrize(("running", "interval"), [
    (1, 30.0), (150, 30.0), (151, 30.2), (2000, 400.0), (10_000, 2000.0)])
def test_accrual_interval_keeps_cost_writes_under_their_rate(running: int, interval: float) -> None:
    assert cost.accrual_interval(running) == pytest.approx(interval)
    assert running / cost.accrual_interval(running) <= cost.ACCRUAL_WRITES_PER_SECOND


@pytest.mark.parametrize(("others", "accrued_ago", "charged"), [
    pytest.param(0, 100, True, id="alone, 100 s since the last charge: charged"),
    pytest.param(1999, 100, False, id="one of 2,000 running, 100 s: waits (every 400 s)"),
    pytest.param(1999, 400, True, id="one of 2,000 running, 400 s: charged"),
])
def test_accrual_waits_longer_when_many_jobs_run(others: int, accrued_ago: float, charged: bool) -> None:
    charges = {"nlp/j": 2.0, **{f"nlp/other-{i}": 2.0 for i in range(others)}}  # jobs the store does not hold
    actions = job_actions([running_job().cost(accrued_ago=accrued_ago), *gang()], charges=charges)
    assert bool([a for a in actions if isinstance(a, PatchStatus) and "cost" in a.status]) is charged


@pytest.mark.parametrize(("workers", "extra", "decision", "phase"), [
    pytest.param(1, gang(), Preempt("nlp/j", "r"), "Preempted", id="preempted"),
    pytest.param(2, [worker("nlp/j", 0, node_name="n0"), worker("nlp/j", 1, node_name="n1")],
                 Resize("nlp/j", 1, ("n0",), 3.0), "Admitted", id="shrunk"),
    pytest.param(1, [worker("nlp/j", 0, node_name="n0")], Resize("nlp/j", 2, ("n0", "n1"), 3.0), "Admitted",
                 id="grown"),
    pytest.param(1, [worker("nlp/j", 0, node_name="n0")], Migrate("nlp/j", "a100", 1, ("n1",), 3.0, "faster"),
                 "Admitted", id="moved"),
    pytest.param(1, [worker("nlp/j", 0, phase="Succeeded")], None, "Succeeded", id="finished"),
    pytest.param(1, [worker("nlp/j", 0, phase="Failed")], None, "Queued", id="worker failed: restarted"),
])
def test_a_job_releasing_its_gpus_is_charged_in_the_releasing_patch(workers: int, extra: list[Any], decision: Any,
                                                                    phase: str) -> None:
    """The hour since the last charge is charged at the price it last paid (2.5, not the core's 9.0 from now on),
    in the same write as the release, so no interval is lost and none is charged twice."""
    nodes = [f"n{i}" for i in range(workers)]
    job = (running_job(workers).allocation("a100", *nodes, admitted_ago=7200, price=2.5)
           .cost(credits=5, gpu_hours=1, energy_kwh=1, accrued_ago=3600))
    actions = job_actions([job, *extra], *([decision] if decision else []), charges={"nlp/j": 9.0})
    costly = [a for a in actions if isinstance(a, PatchStatus) and "cost" in a.status]
    gpus = 8 * workers  # 8 GPUs a worker, 500 W each, for one hour
    want = {"credits": 5 + 2.5 * gpus, "gpuHours": 1.0 + gpus, "energyKWh": 1 + gpus * 0.5,
            "periodCredits": 2.5 * gpus, "accruedAt": ts(0), "periodStart": ts(0)}
    assert [(a.status.get("phase"), a.status["cost"]) for a in costly] == [(phase, want)]


def test_a_job_with_no_allocation_is_not_charged_on_release() -> None:
    job = training_job("nlp/j").gpus(8).rv(77).phase("Queued").started(100).deadline(10)
    actions = job_actions([job])
    assert [a.status["phase"] for a in actions if isinstance(a, PatchStatus)] == ["Failed"]
    assert [a for a in actions if isinstance(a, PatchStatus) and "cost" in a.status] == []


# --- GPUClass and Tenant status ----------------------------------------------------------------------------------

CLASS_STATUS = {"capacity": 24, "allocated": 8, "foreign": 0, "idle": 16, "currentPricePerGPUHour": 1.5}
TENANT_OWNED = {"allocated": {"a100": 8}, "allocatedGPUs": 8, "fairShare": {"a100": 12.0}}
# Usage and spend were metered just now: they are not due again for 30 s.
METERED_NOW = {"decayedUsageGPUHours": 0.0, "spendThisPeriod": 3.0, "periodStart": ts(0), "usageUpdatedAt": ts(0),
               "ledger": {"closedCredits": 3.0, "jobs": {}}}
TENANT_STATUS = {**TENANT_OWNED, **METERED_NOW}


@pytest.mark.parametrize(("class_status", "tenant_status", "want"), [
    pytest.param(CLASS_STATUS, TENANT_STATUS, [], id="unchanged: nothing"),
    pytest.param(None, None, [(GPU_CLASSES, "a100", CLASS_STATUS),
                              (TENANTS, "nlp", {**TENANT_OWNED, **METERED_NOW, "spendThisPeriod": 0.0,
                                                "ledger": {"closedCredits": 0.0, "jobs": {}}})],
                 id="no status yet: both written, the metering clock started"),
    pytest.param({**CLASS_STATUS, "currentPricePerGPUHour": 1.4}, TENANT_STATUS,
                 [(GPU_CLASSES, "a100", CLASS_STATUS)], id="price moved: class written whole"),
    pytest.param({**CLASS_STATUS, "observedGeneration": 4}, TENANT_STATUS, [],
                 id="fields the plan does not own are ignored"),
    pytest.param(CLASS_STATUS, {**TENANT_STATUS, "allocated": {"a100": 8, "h100": 4}, "allocatedGPUs": 12},
                 [(TENANTS, "nlp", {**TENANT_OWNED, "allocated": {"a100": 8, "h100": None}})],
                 id="a class the tenant no longer holds is nulled"),
    pytest.param(CLASS_STATUS, {**TENANT_STATUS, "fairShare": {"a100": 12.0, "l4": 2.0}},
                 [(TENANTS, "nlp", {**TENANT_OWNED, "fairShare": {"a100": 12.0, "l4": None}})],
                 id="a fair share that vanished is nulled"),
    pytest.param(CLASS_STATUS, {**TENANT_STATUS, "decayedUsageGPUHours": 10.0, "usageUpdatedAt": ts(3600)},
                 [(TENANTS, "nlp", {**TENANT_OWNED, **METERED_NOW, "decayedUsageGPUHours": pytest.approx(
                     10.0 * 0.5 ** (1 / 24) + 8 * 24 / math.log(2) * (1 - 0.5 ** (1 / 24)), rel=1e-6)})],
                 id="an hour holding 8 GPUs: usage decays and grows; spend moves only with the job's charges"),
    pytest.param(CLASS_STATUS, {**TENANT_STATUS, "ledger": None},
                 [(TENANTS, "nlp", {**TENANT_OWNED, "spendThisPeriod": 3.0, "periodStart": ts(0),
                                    "ledger": {"closedCredits": 3.0, "jobs": {}}})],
                 id="written before the ledger: its spend is carried over as the deleted jobs' part"),
])
def test_class_and_tenant_status_are_patched_only_when_changed(
        class_status: dict[str, Any] | None, tenant_status: dict[str, Any] | None, want: list[Any]) -> None:
    cls, ten = gpu_class("a100").price(2.0).power(500), tenant("nlp").guaranteed(a100=8)
    if class_status is not None:
        cls = cls.status(**class_status)
    if tenant_status is not None:
        ten = ten.status(**tenant_status)
    bodies = [cls, ten, *CLUSTER[2:], running_job().cost(credits=3.0, accrued_ago=0),
              worker("nlp/j", 0, node_name="n0", gpus=8)]
    result = plan(bodies, scheduler=told(prices={"a100": 1.5}, fair_shares={"nlp": {"a100": 12.0004}},
                                         charges={"nlp/j": 1.5}))
    assert [(a.kind, a.key, a.status) for a in of_kind(result.actions, PatchStatus)] == want


@pytest.mark.parametrize(("stored", "ratios", "want"), [
    pytest.param(None, {"nlp": 1.04372}, [{**TENANT_OWNED, "shareRatio": 1.04}],
                 id="the core's ratio, to the two decimals the queue reasons quote"),
    pytest.param(1.04, {"nlp": 1.0412}, [], id="the same at two decimals: no write"),
    pytest.param(1.04, {"nlp": 2.41}, [{**TENANT_OWNED, "shareRatio": 2.41}], id="moved: written"),
    pytest.param(1.04, {"nlp": math.inf}, [{**TENANT_OWNED, "shareRatio": None}],
                 id="infinite (GPUs held at full price, no entitlement): dropped, JSON has no infinity"),
    pytest.param(1.04, {}, [{**TENANT_OWNED, "shareRatio": None}], id="the core has none for it: dropped"),
    pytest.param(None, {"nlp": math.inf}, [], id="infinite with none stored: nothing to write"),
])
def test_tenant_share_ratio_is_the_cores(stored: float | None, ratios: dict[str, float],
                                         want: list[dict[str, Any]]) -> None:
    ten = tenant("nlp").guaranteed(a100=8).status(**TENANT_STATUS)
    if stored is not None:
        ten = ten.status(shareRatio=stored)
    bodies = [gpu_class("a100").price(2.0).power(500).status(**CLASS_STATUS), ten, *CLUSTER[2:],
              running_job().cost(credits=3.0, accrued_ago=0), worker("nlp/j", 0, node_name="n0", gpus=8)]
    result = plan(bodies, scheduler=told(prices={"a100": 1.5}, fair_shares={"nlp": {"a100": 12.0004}},
                                         charges={"nlp/j": 1.5}, share_ratios=ratios))
    assert [a.status for a in of_kind(result.actions, PatchStatus) if a.kind == TENANTS] == want


HOUR = 3600.0
WEEK = 168 * HOUR


@pytest.mark.parametrize(("created", "status", "want"), [
    pytest.param(None, None, NOW, id="no creation time, no status: the period starts now"),
    pytest.param(2 * HOUR, None, NOW - 2 * HOUR, id="before any status: counted from the Tenant's creation"),
    pytest.param(3 * WEEK, {"periodStart": ts(WEEK + 0.5 * HOUR)}, NOW - 0.5 * HOUR,
                 id="a new period began half an hour ago"),
    pytest.param(9 * WEEK, {"periodStart": ts(3 * WEEK + HOUR)}, NOW - HOUR,
                 id="weeks idle: periods counted from the first"),
])
def test_budget_period(created: float | None, status: dict[str, Any] | None, want: float) -> None:
    from fairshare.api import parse_tenant

    built = tenant("nlp").budget(100)
    built._body["spec"]["budget"]["periodHours"] = 168
    if created is not None:
        built = built.created(created)
    if status is not None:
        built = built.status(**status)
    assert cost.budget_period(parse_tenant(built.body()), NOW) == want


def charged_job(name: str, credits: float, accrued_ago: float, period_ago: float = HOUR) -> JobBuilder:
    built = (training_job(f"nlp/{name}").gpus(8).rv(77).phase("Running").started(3000)
             .allocation("a100", "n0", admitted_ago=2 * HOUR).cost(credits=credits, accrued_ago=accrued_ago))
    built._status["cost"].update(periodCredits=credits, periodStart=ts(period_ago))
    return built


def test_tenant_spend_is_the_sum_of_its_jobs_charges_written_in_the_cycle_that_charges_them() -> None:
    """A periodic charge (an hour at 2.0 on 8 GPUs) and a job deleted since (its last entry kept): the Tenant's spend
    is the ledger's sum, and its credits left are counted from it."""
    ledger = {"closedCredits": 1.0, "jobs": {"uid-nlp-j": 30.5, "uid-nlp-gone": 4.0}}
    bodies = [CLUSTER[0], tenant("nlp").budget(100).rv(5).status(spendThisPeriod=35.5, periodStart=ts(HOUR),
                                                           usageUpdatedAt=ts(0), ledger=ledger),
              *CLUSTER[2:], charged_job("j", 30.5, accrued_ago=3600), *gang()]
    result = plan(bodies, scheduler=told(charges={"nlp/j": 2.0}))
    [patch] = [a for a in of_kind(result.actions, PatchStatus) if a.kind == TENANTS]
    assert {k: patch.status[k] for k in ("spendThisPeriod", "creditsLeft", "ledger")} == {
        "spendThisPeriod": 1.0 + 4.0 + 30.5 + 16.0, "creditsLeft": 100 - 51.5,
        "ledger": {"closedCredits": 1.0, "jobs": {"uid-nlp-gone": 4.0, "uid-nlp-j": 46.5},
                   "closedAt": {"uid-nlp-gone": ts(0)}}}  # the deleted job's entry stays, closed, for its grace
    assert patch.resource_version is not None, "a conditional write: a stale ledger is never written over a new one"


def test_a_charge_not_written_to_a_job_being_deleted_is_not_in_its_tenants_ledger() -> None:
    """A running job being deleted gets no status write (its periodic charge is not sent), so its Tenant's entry stays
    at what the job records: the ledger holds only charges its jobs hold."""
    ledger = {"closedCredits": 0.0, "jobs": {"uid-nlp-j": 30.5}}
    bodies = [CLUSTER[0], tenant("nlp").rv(5).status(spendThisPeriod=30.5, periodStart=ts(HOUR),
                                                     usageUpdatedAt=ts(3600), ledger=ledger),
              *CLUSTER[2:], charged_job("j", 30.5, accrued_ago=3600).deleting(), *gang()]
    result = plan(bodies, scheduler=told(charges={"nlp/j": 2.0}))
    assert [a for a in of_kind(result.actions, PatchStatus) if a.kind == TRAINING_JOBS] == []
    [patch] = [a for a in of_kind(result.actions, PatchStatus) if a.kind == TENANTS]
    assert (patch.status["spendThisPeriod"], patch.status["ledger"]["jobs"]) == (30.5, {"uid-nlp-j": 30.5})


def priced_job(name: str, credits: float, accrued_ago: float, phase: str = "Running") -> JobBuilder:
    built = charged_job(name, credits, accrued_ago).phase(phase)
    built._status["allocation"]["pricePerGPUHour"] = 2.0
    return built


@pytest.mark.parametrize(("deleted", "entry", "want"), [
    pytest.param(priced_job("j", 30.5, accrued_ago=20), 30.5, 30.5 + 16.0 * 11 / HOUR,
                 id="running, charged 20 s ago, seen deleted 9.5 s ago: charged to the second after it was seen gone"),
    pytest.param(priced_job("j", 30.5, accrued_ago=20), 0.0, 30.5 + 16.0 * 11 / HOUR,
                 id="its last charge never reached the Tenant (a crash between the two writes): that one too"),
    pytest.param(priced_job("j", 30.5, accrued_ago=20, phase="Admitted"), 30.5, 30.5,
                 id="a gang still starting pays nothing"),
])
def test_a_job_deleted_between_two_charges_is_charged_up_to_when_it_was_seen_gone(
        deleted: JobBuilder, entry: float, want: float) -> None:
    ledger = {"closedCredits": 0.0, "jobs": {"uid-nlp-j": entry} if entry else {}}
    store = store_of(CLUSTER[0], tenant("nlp").rv(5).status(spendThisPeriod=entry, periodStart=ts(HOUR),
                                                            usageUpdatedAt=ts(0), ledger=ledger), *CLUSTER[2:])
    store.wall_clock = lambda: NOW - 9.5
    body = deleted.body()
    body["metadata"].update(uid="uid-nlp-j", resourceVersion="78")
    store.put(TRAINING_JOBS, body)
    store.delete(TRAINING_JOBS, body)
    [patch] = [a for a in of_kind(plan(store).actions, PatchStatus) if a.kind == TENANTS]
    book = patch.status["ledger"]
    assert (patch.status["spendThisPeriod"], book["jobs"]) == (pytest.approx(want, abs=1e-6),
                                                              {"uid-nlp-j": pytest.approx(want, abs=1e-6)})
    assert book["closedAt"] == {"uid-nlp-j": ts(0)}
    assert book["finalChargedThrough"] == {"uid-nlp-j": ts(9 if deleted.body()["status"]["phase"] == "Running"
                                                           else 20)}


@pytest.mark.parametrize(("seen_ago", "final", "want"), [
    pytest.param(9.5, {}, {"uid-nlp-j"}, id="seen gone lately: charged"),
    pytest.param(GRACE_SECONDS, {}, set(), id="seen gone longer than the grace ago: its entry may be folded already"),
    pytest.param(9.5, {"uid-nlp-j": ts(9)}, set(), id="its entry final already: nothing more"),
])
def test_which_deleted_jobs_get_a_last_charge(seen_ago: float, final: dict[str, str], want: set[str]) -> None:
    ledger = {"closedCredits": 0.0, "jobs": {"uid-nlp-j": 30.5}, "finalChargedThrough": final}
    store = store_of(CLUSTER[0], tenant("nlp").rv(5).status(spendThisPeriod=30.5, periodStart=ts(HOUR),
                                                            usageUpdatedAt=ts(0), ledger=ledger), *CLUSTER[2:])
    store.wall_clock = lambda: NOW - seen_ago
    body = priced_job("j", 30.5, accrued_ago=20 + seen_ago).body()
    body["metadata"].update(uid="uid-nlp-j", resourceVersion="78")
    store.put(TRAINING_JOBS, body)
    store.delete(TRAINING_JOBS, body)
    assert set(departed_charges(build_world(store, NOW), NOW).get("nlp", {})) == want


def test_a_ledger_that_agrees_with_the_jobs_is_not_written_again() -> None:
    ledger = {"closedCredits": 0.0, "jobs": {"uid-nlp-j": 30.5}}
    bodies = [CLUSTER[0], tenant("nlp").status(**TENANT_OWNED, spendThisPeriod=30.5, periodStart=ts(HOUR),
                                               decayedUsageGPUHours=0.0, usageUpdatedAt=ts(0), ledger=ledger),
              *CLUSTER[2:], charged_job("j", 30.5, accrued_ago=0), *gang()]
    result = plan(bodies, scheduler=told(charges={"nlp/j": 2.0}, fair_shares={"nlp": {"a100": 12.0}}))
    assert [a for a in of_kind(result.actions, PatchStatus) if a.kind == TENANTS] == []


@pytest.mark.parametrize(("decision", "want_allocated"), [
    pytest.param(None, 8, id="running job holds its GPUs"),
    pytest.param(Preempt("nlp/j", "r"), 0, id="preempted: released"),
    pytest.param(Resize("nlp/j", 2, ("n0", "n1"), 1.0), 16, id="resized: counted at the new size"),
])
def test_class_allocation_follows_the_decisions(decision: Any, want_allocated: int) -> None:
    bodies = [*CLUSTER, running_job(), worker("nlp/j", 0, node_name="n0", gpus=8)]
    result = plan(bodies, scheduler=told(*([decision] if decision else [])))
    [patch] = [a for a in of_kind(result.actions, PatchStatus) if a.kind == GPU_CLASSES]
    assert (patch.status["allocated"], patch.status["idle"]) == (want_allocated, 24 - want_allocated)


@pytest.mark.parametrize(("current", "desired", "want"), [
    pytest.param({}, {"a": 1}, {"a": 1}, id="added"),
    pytest.param({"a": 1, "b": 2}, {"a": 3}, {"a": 3, "b": None}, id="removed key becomes null"),
    pytest.param({"a": 1}, {}, {"a": None}, id="everything removed"),
    pytest.param({"a": 1}, {"a": 1}, {"a": 1}, id="unchanged"),
])
def test_merge_patch_map(current: dict[str, Any], desired: dict[str, Any], want: dict[str, Any]) -> None:
    assert merge_patch_map(current, desired) == want


# --- what the core is shown ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("pods", "want_jobs", "want_n0"), [
    pytest.param([worker("nlp/j", 0, phase="Pending", node_name="n0", gpus=8)], ["nlp/j"], 8,
                 id="no transition: the job stays"),
    pytest.param([worker("nlp/j", 0, node_name="n0", gpus=8)], ["nlp/j"], 8,
                 id="Admitted -> Running: the job stays, it keeps its GPUs"),
    pytest.param([worker("nlp/j", 0, phase="Succeeded", node_name="n0", gpus=8)], [], 0,
                 id="finished: the job leaves, its node stays held until the pod is gone"),
    pytest.param([worker("nlp/j", 0, phase="Failed", node_name="n0", gpus=8)], [], 0,
                 id="restarting: the job leaves, its node stays held"),
])
def test_core_sees_jobs_after_lifecycle(pods: list[Any], want_jobs: list[str], want_n0: int) -> None:
    seen: list[core.Snapshot] = []
    job = training_job("nlp/j").gpus(8).phase("Admitted").allocation("a100", "n0")
    plan([*CLUSTER, job, *pods], scheduler=told(seen=seen))
    [snapshot] = seen
    assert ([j.key for j in snapshot.jobs], {n.name: n.gpus for n in snapshot.nodes}["n0"]) == (want_jobs, want_n0)


# --- children that went missing -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("job", "pods", "want"), [
    pytest.param(running_job(2, generation=2).phase("Admitted"), [],
                 [("ensure", "nlp/j", ("j-worker-0", "j-worker-1"))],
                 id="admitted, no pods (operator stopped before creating them): ensured again"),
    pytest.param(running_job(2, generation=2).phase("Admitted"), [worker("nlp/j", 1, generation=2)],
                 [("ensure", "nlp/j", ("j-worker-0",))], id="admitted, one pod missing: that one created again"),
    pytest.param(running_job(2, generation=2).phase("Admitted"), [worker("nlp/j", 0, generation=1).deleting()],
                 [("ensure", "nlp/j", ("j-worker-1",))],
                 id="an old pod still holds a name: the other worker now, that one once the old pod is gone"),
    pytest.param(running_job(2, generation=2).phase("Admitted"),
                 [worker("nlp/j", 0, generation=2, phase="Pending"), worker("nlp/j", 1, generation=2, phase="Pending")],
                 [], id="all pods there: nothing"),
    pytest.param(running_job(2, generation=2), [worker("nlp/j", 0, generation=2)], [],
                 id="Running with a pod gone: the lifecycle's business, not recreated"),
])
def test_missing_children_are_ensured_again(job: JobBuilder, pods: list[Any], want: list[Any]) -> None:
    actions = job_actions([job, *pods])
    ensures = [a for a in actions if isinstance(a, EnsureChildren)]
    assert rows(ensures) == want
    assert all(pinned_nodes(e) == [f"n{p['metadata']['labels']['fairshare.dev/rank']}" for p in e.pods]
               for e in ensures)
    assert all(p["metadata"]["labels"]["fairshare.dev/generation"] == "2" for e in ensures for p in e.pods)


# --- releases before grants ---------------------------------------------------------------------------------------

def _groups(bodies: list[Any], *decisions: Any, **numbers: Any) -> list[tuple[str, list[Any]]]:
    result = plan([*CLUSTER, *bodies], scheduler=told(*decisions, **numbers))
    return [(name, rows(group)) for name, group in
            (("releases", result.releases), ("grants", result.grants), ("bookkeeping", result.bookkeeping)) if group]


@pytest.mark.parametrize(("bodies", "decisions", "want"), [
    pytest.param([running_job(), worker("nlp/j", 0, node_name="n0", gpus=8)], [Preempt("nlp/j", "r")],
                 [("releases", [("patch", "nlp/j", "Preempted", "77"), ("delete", "nlp/j", ("j-worker-0",)),
                                ("event", "nlp/j", "Warning", "Preempted")])],
                 id="a preemption releases"),
    pytest.param([running_job(2), *gang(2)], [Resize("nlp/j", 1, ("n0",), 1.0)],
                 [("releases", [("patch", "nlp/j", "Admitted", "77"),
                                ("delete", "nlp/j", ("j-worker-0", "j-worker-1")),
                                ("ensure", "nlp/j", ("j-worker-0",)), ("event", "nlp/j", "Normal", "Resized")])],
                 id="a shrink releases"),
    pytest.param([running_job(1), worker("nlp/j", 0, node_name="n0", gpus=8)],
                 [Resize("nlp/j", 2, ("n0", "n1"), 1.0)],
                 [("grants", [("patch", "nlp/j", "Admitted", "77"), ("delete", "nlp/j", ("j-worker-0",)),
                              ("ensure", "nlp/j", ("j-worker-0", "j-worker-1")),
                              ("event", "nlp/j", "Normal", "Resized")])],
                 id="a grow is a grant"),
    pytest.param([training_job("nlp/j").gpus(8)], [Admit("nlp/j", "a100", 1, ("n0",), 1.0)],
                 [("grants", [("patch", "nlp/j", "Admitted", "1"), ("ensure", "nlp/j", ("j-worker-0",)),
                              ("event", "nlp/j", "Normal", "Admitted")])],
                 id="an admission is a grant"),
    pytest.param([training_job("nlp/j").gpus(8)], [Wait("nlp/j", "full", 1, "WaitingForCapacity")],
                 [("bookkeeping", [("patch", "nlp/j", "Queued", None)])], id="a wait is bookkeeping"),
    pytest.param([running_job(), worker("nlp/j", 0, phase="Succeeded", node_name="n0", gpus=8)], [],
                 [("releases", [("patch", "nlp/j", "Succeeded", "77"), ("event", "nlp/j", "Normal", "Succeeded")])],
                 id="a lifecycle transition releases"),
    pytest.param([running_job().phase("Admitted")], [],
                 [("grants", [("ensure", "nlp/j", ("j-worker-0",))])], id="children ensured again are a grant"),
    pytest.param([training_job("nlp/j").workers(3, 2)], [],
                 [("bookkeeping", [("patch", "nlp/j", "Failed", None), ("event", "nlp/j", "Warning", "InvalidSpec")])],
                 id="an invalid spec is bookkeeping"),
])
def test_actions_are_grouped_releases_grants_bookkeeping(bodies: list[Any], decisions: list[Any],
                                                         want: list[Any]) -> None:
    got = _groups(bodies, *decisions)
    assert [(name, jobs) for name, group in got if (jobs := [r for r in group if r[1] == "nlp/j"])] == want
    assert {name for name, group in got for r in group if r[1] in ("a100", "nlp")} <= {"bookkeeping"}, (
        "GPUClass and Tenant status are bookkeeping")
