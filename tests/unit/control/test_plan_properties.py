"""Properties of plan_cycle over random stores of nodes, tenants, jobs in every phase and their pods (real core)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairshare.control.actions import DeletePods, EnsureChildren, PatchStatus, RecordEvent, action_key
from fairshare.control.ownership import controller_uid
from fairshare.control.podstate import pod_phase, terminating
from fairshare.control.reconcile import belongs
from fairshare.control.snapshot import build_world
from fairshare.control.store import PODS, TRAINING_JOBS, Store
from tests.unit.control.builders import NOW, JobBuilder, gpu_class, node, store_of, tenant, training_job, ts, worker
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import plan

CLASSES = ("a100", "h100")
NAMESPACES = ("nlp", "cv", "ext")  # ext belongs to no tenant
PHASES = (None, "Queued", "Admitted", "Running", "Preempted", "Succeeded", "Failed")
TERMINAL = ("Succeeded", "Failed")
POD_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def stores(draw: st.DrawFn) -> Store:
    bodies: list[Any] = [gpu_class(c).price(draw(st.sampled_from((1.0, 2.5, 4.0)))) for c in CLASSES]
    node_names: list[str] = []
    for c in CLASSES:
        for i in range(draw(st.integers(0, 3))):
            built = node(f"{c}-{i}").gpu_class(c).gpus(draw(st.sampled_from((0, 2, 4, 8))))
            if draw(st.booleans()) and draw(st.booleans()):
                built = built.cordoned()
            if draw(st.integers(0, 5)) == 0:  # NotReady, for a moment or past the grace
                built = built.status(conditions=[{"type": "Ready", "status": "Unknown",
                                                  "lastTransitionTime": ts(draw(st.sampled_from((5, 600))))}])
            if draw(st.integers(0, 7)) > 0:  # else deleted: allocations and pods may still name it
                bodies.append(built)
            node_names.append(f"{c}-{i}")
    bodies.append(tenant("nlp").guaranteed(a100=draw(st.integers(0, 16))))
    bodies.append(tenant("cv").guaranteed(h100=draw(st.integers(0, 8))).borrowing(a100=draw(st.integers(0, 8))))

    for j in range(draw(st.integers(0, 6))):
        key = f"{draw(st.sampled_from(NAMESPACES))}/job-{j}"
        workers = draw(st.integers(1, 3))
        job: JobBuilder = training_job(key).workers(1, workers).gpus(draw(st.sampled_from((1, 2, 4, 8))))
        job = job.backoff_limit(draw(st.integers(0, 2))).restarts(draw(st.integers(0, 2)))
        if draw(st.integers(0, 9)) == 0:
            job = job.workers(3, 2)  # invalid
        phase = draw(st.sampled_from(PHASES))
        generation = draw(st.integers(1, 3))
        if phase is not None:
            job = job.phase(phase)
        if phase in ("Admitted", "Running", "Preempted", "Succeeded", "Failed") and node_names and draw(st.booleans()):
            nodes = draw(st.lists(st.sampled_from(node_names), min_size=1, max_size=workers))
            job = job.allocation(draw(st.sampled_from(CLASSES)), *nodes, generation=generation)
        if phase == "Running" or draw(st.booleans()):
            job = job.started(draw(st.sampled_from((60, 7200))))
        if draw(st.booleans()):
            job = job.deadline(3600)
        if draw(st.booleans()):
            job = job.cost(credits=1.0, accrued_ago=draw(st.sampled_from((0, 10, 3600))))
        bodies.append(job)
        for rank in draw(st.lists(st.integers(0, workers - 1), unique=True, max_size=workers)):
            pod = worker(key, rank, generation=draw(st.sampled_from((generation, generation - 1))),
                         phase=draw(st.sampled_from(POD_PHASES)),
                         node_name=draw(st.sampled_from(node_names)) if node_names else None,
                         gpus=draw(st.integers(1, 8)))
            if draw(st.integers(0, 5)) == 0:
                pod = pod.deleting()
            if draw(st.integers(0, 9)) == 0:
                pod = pod.owned_by(draw(st.sampled_from((None, "uid-of-an-earlier-job"))))
            if draw(st.integers(0, 9)) == 0 and job in bodies:  # the job is gone
                bodies.remove(job)
            bodies.append(pod)
    return store_of(*bodies)


@PROPERTY
@given(stores())
def test_plan_never_restarts_terminal_jobs_never_double_admits_and_writes_the_phase_first(store: Store) -> None:
    result = plan(store)
    phases = {key: (body.get("status") or {}).get("phase") for key, body in store.objects[TRAINING_JOBS].items()}
    pods_of: dict[str, set[str]] = {}
    for body in store.all(PODS):
        job = f"{body['metadata']['namespace']}/{body['metadata']['labels']['fairshare.dev/job']}"
        pods_of.setdefault(job, set()).add(body["metadata"]["name"])

    per_job: dict[str, list[Any]] = {}
    for action in result.actions:
        if not isinstance(action, PatchStatus) or action.kind == TRAINING_JOBS:
            per_job.setdefault(action_key(action), []).append(action)

    for key, actions in per_job.items():
        if key not in phases:  # a job that is gone: only its pods are deleted
            assert all(isinstance(a, DeletePods) for a in actions), f"an action about an unknown job {key}"
            continue
        if phases[key] in TERMINAL:  # at most its live pods stopped: never a status write, a start or an Event
            assert all(isinstance(a, DeletePods) for a in actions), f"terminal job {key} got {actions}"
        ensures = [i for i, a in enumerate(actions) if isinstance(a, EnsureChildren)]
        assert len(ensures) <= 1, f"{key}: children ensured twice in one cycle"
        if ensures:
            later = [a for a in actions[ensures[0]:] if isinstance(a, PatchStatus) and "phase" in a.status]
            assert later == [], f"{key}: a phase written after its children were created: {actions}"
        for a in actions:
            if isinstance(a, DeletePods):
                assert set(a.names) <= pods_of.get(key, set()), f"{key}: deletes pods it does not have"
            if isinstance(a, RecordEvent):
                assert a.type in ("Normal", "Warning")

    admitted = [d.job_key for d in result.result.decisions if type(d).__name__ == "Admit"]
    assert len(admitted) == len(set(admitted))
    for key in admitted:
        [ensure_index] = [i for i, a in enumerate(per_job[key]) if isinstance(a, EnsureChildren)]
        first = per_job[key][0]
        assert ensure_index > 0 and isinstance(first, PatchStatus) and first.resource_version is not None, (
            f"{key}: an admission must write its status conditionally before creating pods")


@PROPERTY
@given(stores())
def test_after_one_cycle_every_live_pod_is_one_its_jobs_status_holds(store: Store) -> None:
    """Pods to intent, within one cycle, from any state: every pod a TrainingJob controls that is neither finished
    nor being deleted is one its job's status holds (a job the operator cannot parse is left alone)."""
    FakeCluster(store).apply(plan(store).actions)
    world = build_world(store, NOW)
    for pod in store.all(PODS):
        if not controller_uid(pod) or terminating(pod) or pod_phase(pod) in TERMINAL:
            continue
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['labels']['fairshare.dev/job']}"
        view = world.jobs.get(key)
        if view is not None and view.model is None:
            continue
        assert view is not None and belongs(view, pod), (
            f"{pod['metadata']['name']} live beside {key}'s status {view.body.get('status') if view else 'gone'}")
