"""Lifecycle rules: what a job's pods and nodes say about it after admission, and the actions that record it."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import Action, DeletePods, PatchStatus, RecordEvent
from fairshare.control.lifecycle import Transition, observe
from fairshare.control.snapshot import JobView, build_world
from fairshare.control.store import TRAINING_JOBS
from fairshare.control.transition import DEFAULT_LIFECYCLE, NODE_LOSS, LifecycleSettings
from tests.unit.control.builders import NOW, JobBuilder, PodBuilder, store_of, tenant, training_job, ts, worker

KEY = "nlp/j"


def view_of(job: JobBuilder, *pods: PodBuilder, rejected: tuple[str, str, str] | None = None) -> JobView:
    store = store_of(tenant("nlp"), job.rv(7), *pods)
    if rejected is not None:
        store.rejected[KEY] = rejected
    return build_world(store, NOW).jobs[KEY]


def admitted(workers: int = 2, generation: int = 1, phase: str = "Admitted") -> JobBuilder:
    nodes = [f"n{i}" for i in range(workers)]
    return training_job(KEY).workers(workers).gpus(4).phase(phase).allocation("a100", *nodes, generation=generation)


def running(workers: int = 2, generation: int = 1) -> JobBuilder:
    return admitted(workers, generation, "Running").started(600)


def w(rank: int, phase: str = "Running", generation: int = 1, exit_code: int | None = None) -> PodBuilder:
    """Worker `rank`, bound to node n<rank>."""
    built = worker(KEY, rank, generation=generation, phase=phase, node_name=f"n{rank}")
    return built.exit_code(exit_code) if exit_code is not None else built


Row = tuple[Any, ...]
NO_MEMORY = ("0/20 nodes are available: 1 Insufficient memory, 19 node(s) didn't match Pod's node affinity/selector. "
             "preemption: 0/20 nodes are available: 20 Preemption is not helpful for scheduling.")
NO_GPUS = ("0/20 nodes are available: 1 Insufficient nvidia.com/gpu, 19 node(s) didn't match Pod's node "
           "affinity/selector.")
NO_PVC = '0/20 nodes are available: persistentvolumeclaim "nlp-checkpoints" not found. not found'
TAINTED = "0/20 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}."


def summary(transition: Transition | None) -> tuple[list[Row], bool] | None:
    """Each action as a short row: ("patch", phase, conditional-on rv), ("delete", names), ("event", type, reason)."""
    if transition is None:
        return None
    rows: list[Row] = []
    for a in transition.actions:
        if isinstance(a, PatchStatus):
            rows.append(("patch", a.status.get("phase"), a.resource_version))
        elif isinstance(a, DeletePods):
            rows.append(("force-delete" if a.force else "delete", a.names))
        elif isinstance(a, RecordEvent):
            rows.append(("event", a.type, a.reason))
    return rows, transition.releases_gpus


@pytest.mark.parametrize(("job", "pods", "want"), [
    # rank 0 exits 0
    pytest.param(running(), [w(0, "Succeeded", exit_code=0), w(1, "Running")],
                 ([("patch", "Succeeded", "7"), ("delete", ("j-worker-1",)), ("event", "Normal", "Succeeded")], True),
                 id="rank 0 succeeded: Succeeded, stop the rest"),
    pytest.param(running(), [w(0, "Succeeded"), w(1, "Succeeded")],
                 ([("patch", "Succeeded", "7"), ("event", "Normal", "Succeeded")], True),
                 id="all succeeded: nothing left to delete"),
    pytest.param(admitted(), [w(0, "Succeeded"), w(1, "Pending")],
                 ([("patch", "Succeeded", "7"), ("delete", ("j-worker-1",)), ("event", "Normal", "Succeeded")], True),
                 id="from Admitted too"),
    pytest.param(running(), [w(0, "Running"), w(1, "Succeeded")], None, id="rank 1 succeeded, rank 0 runs: nothing"),
    pytest.param(running(generation=2), [w(0, "Succeeded", generation=1), w(0, "Running", generation=2),
                                         w(1, "Running", generation=2)], None,
                 id="rank 0 of an old generation succeeded: nothing"),
    # a worker fails
    pytest.param(running().backoff_limit(3), [w(0, "Running"), w(1, "Failed", exit_code=137)],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="worker failed under backoffLimit: gang restart, every pod deleted"),
    pytest.param(running().backoff_limit(3), [w(0, "Running"), w(1, "Failed")],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="failed with no container status (evicted): restarted all the same"),
    pytest.param(running().backoff_limit(3).restarts(2), [w(0, "Failed"), w(1, "Failed")],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="restarts one below backoffLimit: still restarts"),
    pytest.param(running().backoff_limit(3).restarts(3), [w(0, "Running"), w(1, "Failed", exit_code=1)],
                 ([("patch", "Failed", "7"), ("delete", ("j-worker-0",)), ("event", "Warning", "BackoffLimitExceeded")],
                  True),
                 id="restarts == backoffLimit: Failed, failed pods kept for their logs"),
    pytest.param(running().backoff_limit(0), [w(0, "Failed"), w(1, "Pending")],
                 ([("patch", "Failed", "7"), ("delete", ("j-worker-1",)), ("event", "Warning", "BackoffLimitExceeded")],
                  True),
                 id="backoffLimit 0: the first failure is final"),
    pytest.param(admitted(), [w(0, "Pending"), w(1, "Failed")],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="a worker fails before the gang ever ran"),
    pytest.param(running(generation=2), [w(1, "Failed", generation=1), w(0, "Running", generation=2),
                                         w(1, "Running", generation=2)], None,
                 id="a failed pod of an old generation does not count"),
    # a worker's pod is lost while the gang runs
    pytest.param(running(), [w(0)],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0",)), ("event", "Warning", "Restarting")], True),
                 id="Running, a worker's pod deleted: counted gang restart"),
    pytest.param(running(), [w(0), w(1).deleting()],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="Running, a worker's pod being deleted by someone else: counted gang restart"),
    pytest.param(running(), [],
                 ([("patch", "Queued", "7"), ("event", "Warning", "Restarting")], True),
                 id="Running, every pod gone: restart, nothing left to delete"),
    pytest.param(running().backoff_limit(1).restarts(1), [w(0)],
                 ([("patch", "Failed", "7"), ("delete", ("j-worker-0",)), ("event", "Warning", "BackoffLimitExceeded")],
                  True), id="Running, a pod lost with no restart left: Failed"),
    pytest.param(running(generation=2), [w(0, generation=2), w(1, generation=1)],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="Running, a rank of the current generation missing (an old one's pod does not stand in)"),
    # a worker cannot start
    pytest.param(admitted(), [w(0), w(1).waiting("ImagePullBackOff", "Back-off pulling image", scheduled_ago=300)],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="image pull failing past the start grace: counted gang restart"),
    pytest.param(admitted(), [w(0), w(1).waiting("ImagePullBackOff", "Back-off pulling image", scheduled_ago=30)],
                 ([("patch", None, None)], False),
                 id="image pull failing within the grace: the Running condition says so, GPUs kept"),
    pytest.param(admitted().status(conditions=[
        {"type": "Running", "status": "False", "reason": "ImagePullBackOff", "lastTransitionTime": ts(30),
         "message": "worker j-worker-1: ImagePullBackOff: Back-off pulling image (container trainer); the gang "
                    f"restarts from its last checkpoint at {ts(-90)} if it has not started by then"}]),
                 [w(0), w(1).waiting("ImagePullBackOff", "Back-off pulling image", scheduled_ago=30)], None,
                 id="within the grace, already said: no write"),
    pytest.param(admitted(), [w(0), w(1).waiting("ContainerCreating", scheduled_ago=3000)], None,
                 id="a container still being created is progress, however long"),
    pytest.param(admitted(), [w(0), w(1, "Pending").unschedulable(NO_PVC, since=300)],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Restarting")], True),
                 id="PVC not found past the grace: counted gang restart (not an uncounted requeue)"),
    pytest.param(admitted().backoff_limit(0), [w(0), w(1, "Pending").unschedulable(NO_PVC, since=300)],
                 ([("patch", "Failed", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "BackoffLimitExceeded")], True),
                 id="PVC not found, backoffLimit 0: Failed"),
    pytest.param(admitted(), [w(0), w(1, "Pending").unschedulable(NO_PVC, since=30)],
                 ([("patch", None, None)], False), id="PVC not found within the grace: said at once, GPUs kept"),
    # deadline
    pytest.param(running().deadline(3600).started(7200), [w(0), w(1)],
                 ([("patch", "Failed", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "DeadlineExceeded")], True),
                 id="past activeDeadlineSeconds: Failed"),
    pytest.param(running().deadline(3600).started(3600), [w(0), w(1)], None, id="exactly at the deadline: nothing"),
    pytest.param(running().deadline(3600).started(60), [w(0), w(1)], None, id="before the deadline: nothing"),
    pytest.param(admitted().deadline(60), [w(0, "Pending"), w(1, "Pending")], None,
                 id="never started: the deadline has not begun"),
    pytest.param(training_job(KEY).phase("Queued").restarts(1).deadline(3600).started(7200), [],
                 ([("patch", "Failed", "7"), ("event", "Warning", "DeadlineExceeded")], True),
                 id="queued again after it started, past the deadline: Failed"),
    pytest.param(training_job(KEY).phase("Queued").deadline(3600).started(7200), [w(0, "Running")],
                 ([("patch", "Failed", "7"), ("delete", ("j-worker-0",)), ("event", "Warning", "DeadlineExceeded")],
                  True), id="queued past the deadline, an old worker still stopping: Failed, the worker deleted"),
    pytest.param(training_job(KEY).phase("Queued").deadline(3600).started(600), [], None,
                 id="queued again before the deadline: nothing"),
    pytest.param(training_job(KEY).phase("Queued").deadline(60).created(7200), [], None,
                 id="queued, never started: the deadline has not begun"),
    # admitted -> running
    pytest.param(admitted(), [w(0), w(1)],
                 ([("patch", "Running", None)], False),
                 id="every current worker runs: Running, keeps its GPUs"),
    pytest.param(admitted(), [w(0), w(1, "Pending")], None, id="one worker still pending: nothing"),
    pytest.param(admitted(), [w(0)], None, id="one worker missing: nothing"),
    pytest.param(admitted(generation=2), [w(0, generation=1), w(1, generation=1)], None,
                 id="running pods of the old generation: nothing"),
    pytest.param(running(), [w(0), w(1)], None, id="already Running: nothing"),
    # admitted, a worker kube-scheduler cannot place
    pytest.param(admitted(), [w(0), w(1, "Pending").unschedulable(NO_MEMORY, since=300)],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Unschedulable")], True),
                 id="unschedulable for want of memory past the grace: requeued, every worker deleted"),
    pytest.param(admitted(), [w(0), w(1, "Pending").unschedulable(NO_MEMORY, since=30)], None,
                 id="unschedulable for a moment: nothing"),
    pytest.param(admitted(), [w(0), w(1, "Pending").unschedulable(NO_GPUS, since=3000)], None,
                 id="waiting for GPUs a stopping victim still holds: nothing"),
    pytest.param(admitted(), [w(0), w(1, "Pending").unschedulable(TAINTED, since=300)],
                 ([("patch", "Queued", "7"), ("delete", ("j-worker-0", "j-worker-1")),
                   ("event", "Warning", "Unschedulable")], True),
                 id="unschedulable for a taint: requeued, not counted"),
    pytest.param(admitted(generation=2), [w(1, "Pending", generation=1).unschedulable(NO_MEMORY, since=300),
                                          w(0, generation=2), w(1, "Pending", generation=2)], None,
                 id="an unschedulable pod of an old generation does not count"),
    pytest.param(running(), [w(0), w(1, "Pending").unschedulable(NO_MEMORY, since=300)], None,
                 id="Running: not this rule"),
    # preempted -> queued
    pytest.param(training_job(KEY).phase("Preempted").allocation("a100", "n0"), [],
                 ([("patch", "Queued", "7")], False), id="preempted and drained: requeued"),
    pytest.param(training_job(KEY).phase("Preempted").allocation("a100", "n0"), [w(0, "Running")], None,
                 id="preempted, a pod still terminating: nothing"),
    pytest.param(training_job(KEY).phase("Preempted").allocation("a100", "n0"), [w(0, "Failed")], None,
                 id="preempted, a failed pod not yet deleted: nothing"),
    # never
    pytest.param(training_job(KEY).phase("Succeeded").allocation("a100", "n0").started(99999).deadline(1),
                 [w(0, "Failed")], None, id="Succeeded is terminal"),
    pytest.param(training_job(KEY).phase("Failed").allocation("a100", "n0"), [w(0, "Succeeded")], None,
                 id="Failed is terminal"),
    pytest.param(training_job(KEY).phase("Queued"), [w(0, "Failed")], None, id="Queued: no rule"),
    pytest.param(training_job(KEY), [w(0, "Succeeded")], None, id="no status yet: no rule"),
    pytest.param(admitted().workers(3, 2), [w(0, "Failed")], None, id="invalid spec: no rule"),
    pytest.param(running().deleting(5), [w(0)], None,
                 id="being deleted, a pod already gone: no restart (the garbage collector is at work)"),
])
def test_observe(job: JobBuilder, pods: list[PodBuilder], want: Any) -> None:
    assert summary(observe(view_of(job, *pods), NOW)) == want


GONE = "node n1 no longer exists"


@pytest.mark.parametrize(("job", "pods", "lost", "want"), [
    pytest.param(running(), [w(0), w(1)], {"n1": GONE},
                 ([("patch", "Preempted", "7"), ("delete", ("j-worker-0",)), ("force-delete", ("j-worker-1",)),
                   ("event", "Warning", "NodeLost")], True),
                 id="Running, a worker's node lost: stopped and requeued, its pod deleted at once"),
    pytest.param(admitted(), [w(0, "Pending"), w(1, "Pending")], {"n1": GONE},
                 ([("patch", "Preempted", "7"), ("delete", ("j-worker-0",)), ("force-delete", ("j-worker-1",)),
                   ("event", "Warning", "NodeLost")], True), id="Admitted, a node lost before it ran: the same"),
    pytest.param(running(), [w(0), w(1, "Failed", exit_code=137)], {"n1": GONE},
                 ([("patch", "Preempted", "7"), ("delete", ("j-worker-0",)), ("force-delete", ("j-worker-1",)),
                   ("event", "Warning", "NodeLost")], True),
                 id="its worker failed with the node: a node loss, not a counted failure"),
    pytest.param(running(), [w(0), w(1)], {"n7": "node n7 no longer exists"}, None,
                 id="another node lost: nothing"),
    pytest.param(running(), [w(0, "Succeeded"), w(1)], {"n1": GONE},
                 ([("patch", "Succeeded", "7"), ("delete", ("j-worker-1",)), ("event", "Normal", "Succeeded")], True),
                 id="rank 0 succeeded as the node went: Succeeded (the lost pod is forced out next cycle)"),
])
def test_observe_lost_nodes(job: JobBuilder, pods: list[PodBuilder], lost: dict[str, str], want: Any) -> None:
    transition = observe(view_of(job, *pods), NOW, DEFAULT_LIFECYCLE, lost)
    assert summary(transition) == want
    assert transition is None or (transition.cause == NODE_LOSS) == (want[0][0][1] == "Preempted")


@pytest.mark.parametrize(("job", "rejected", "want"), [
    pytest.param(admitted(), ("1", "pods", "pods j-worker-0: metadata.annotations: Too long"),
                 ([("patch", "Failed", "7"), ("event", "Warning", "PodRejected")], True),
                 id="the API server refused this generation's pods: Failed"),
    pytest.param(admitted(), ("1", "services", "nlp/j, which a Service the operator did not create already holds"),
                 ([("patch", "Failed", "7"), ("event", "Warning", "ServiceNameTaken")], True),
                 id="a Service the operator did not create holds the job's Service name: Failed"),
    pytest.param(admitted(generation=2), ("1", "pods", "refused"), None, id="refused an earlier generation: nothing"),
])
def test_observe_rejected_pods(job: JobBuilder, rejected: tuple[str, str, str], want: Any) -> None:
    assert summary(observe(view_of(job, rejected=rejected), NOW)) == want


def _actions(job: JobBuilder, *pods: PodBuilder, lost: dict[str, str] | None = None) -> tuple[Action, ...]:
    transition = observe(view_of(job, *pods), NOW, DEFAULT_LIFECYCLE, lost)
    assert transition is not None
    return transition.actions


def test_succeeded_writes_the_whole_status() -> None:
    message = "rank 0 of 2 workers exited 0"
    assert _actions(running(), w(0, "Succeeded"), w(1, "Running"))[0] == PatchStatus(TRAINING_JOBS, KEY, {
        "phase": "Succeeded", "completionTime": ts(0), "queue": None,
        "conditions": [
            {"type": "Finished", "status": "True", "reason": "Succeeded", "message": message,
             "lastTransitionTime": ts(0)},
            {"type": "Running", "status": "False", "reason": "Succeeded", "message": message,
             "lastTransitionTime": ts(0)}]}, "7")


def test_restart_counts_backs_off_and_explains() -> None:
    message = ("worker j-worker-1: Error, exit code 137 (container trainer); restarting the gang from its last "
               "checkpoint (2/3) after a back-off of 20s")
    actions = _actions(running().backoff_limit(3).restarts(1), w(0), w(1, "Failed", exit_code=137))
    assert (actions[0], actions[2]) == (
        PatchStatus(TRAINING_JOBS, KEY, {
            "phase": "Queued", "restarts": 2, "allocation": None,
            "lastFailure": {"reason": "Error", "message": "Error, exit code 137 (container trainer)",
                            "worker": "j-worker-1", "at": ts(0), "retryAfter": ts(-20)},
            "queue": {"position": None, "reasonCode": "BackOff", "reason": message, "since": ts(0)},
            "conditions": [
                {"type": "Admitted", "status": "False", "reason": "BackOff", "message": message,
                 "lastTransitionTime": ts(0)},
                {"type": "Running", "status": "False", "reason": "Error", "message": message,
                 "lastTransitionTime": ts(0)}]}, "7"),
        RecordEvent(KEY, "Warning", "Restarting", message))


def test_a_missing_pvc_is_named_in_the_status_the_condition_and_the_event() -> None:
    actions = _actions(admitted().backoff_limit(3), w(0, "Pending").unschedulable(NO_PVC, since=300),
                       w(1, "Pending").unschedulable(NO_PVC, since=300))
    patch, event = actions[0], actions[-1]
    assert isinstance(patch, PatchStatus) and isinstance(event, RecordEvent)
    said = ("PVC nlp-checkpoints not found: create it in the job's namespace, or fix the claim name "
            "(spec.checkpoint.claimName or a spec.podTemplate volume)")
    assert patch.status["lastFailure"] == {"reason": "PVCNotFound", "message": said, "worker": "j-worker-0",
                                           "at": ts(0), "retryAfter": ts(-10)}
    [running_condition] = [c for c in patch.status["conditions"] if c["type"] == "Running"]
    assert (running_condition["reason"], event.reason) == ("PVCNotFound", "Restarting")
    assert said in running_condition["message"] and said in event.message and said in patch.status["queue"]["reason"]


@pytest.mark.parametrize(("restart", "want"), [(1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 360.0), (50, 360.0)])
def test_restart_back_off_doubles_up_to_its_cap(restart: int, want: float) -> None:
    assert LifecycleSettings().backoff(restart) == want


def test_lifecycle_settings_refuse_negative_times() -> None:
    with pytest.raises(ValueError, match="node_lost_grace_seconds"):
        LifecycleSettings(node_lost_grace_seconds=-1)


def test_backoff_limit_message_names_the_field_and_keeps_the_last_failure() -> None:
    actions = _actions(running().backoff_limit(2).restarts(2), w(0, "Failed", exit_code=3), w(1))
    assert actions[-1] == RecordEvent(KEY, "Warning", "BackoffLimitExceeded",
                                      "worker j-worker-0: Error, exit code 3 (container trainer); 2 restarts used of "
                                      "runPolicy.backoffLimit 2")
    patch = actions[0]
    assert isinstance(patch, PatchStatus) and patch.status["lastFailure"] == {
        "reason": "Error", "message": "Error, exit code 3 (container trainer)", "worker": "j-worker-0", "at": ts(0),
        "retryAfter": None}


def test_a_lost_node_is_recorded_and_not_counted() -> None:
    actions = _actions(running().restarts(1), w(0), w(1), lost={"n1": GONE})
    patch = actions[0]
    assert isinstance(patch, PatchStatus)
    assert "restarts" not in patch.status and patch.status["lastFailure"]["reason"] == "NodeLost"
    assert {c["type"]: (c["status"], c["reason"]) for c in patch.status["conditions"]} == {
        "Admitted": ("False", "NodeLost"), "Preempted": ("True", "NodeLost"), "Running": ("False", "NodeLost")}
    assert GONE in patch.status["lastFailure"]["message"]


def test_deadline_message_names_the_field() -> None:
    event = _actions(running().deadline(100).started(101), w(0), w(1))[-1]
    assert event == RecordEvent(KEY, "Warning", "DeadlineExceeded",
                                "ran past runPolicy.activeDeadlineSeconds (100s) since it first started")


@pytest.mark.parametrize(("job", "want_start"), [
    pytest.param(admitted(), ts(0), id="first start: startTime set now"),
    pytest.param(admitted().started(3000), None, id="after a restart: startTime kept"),
])
def test_all_running_sets_start_time_once(job: JobBuilder, want_start: str | None) -> None:
    patch = _actions(job, w(0), w(1))[0]
    assert isinstance(patch, PatchStatus)
    assert (patch.status.get("startTime"), patch.status["phase"], patch.status["conditions"]) == (
        want_start, "Running",
        [{"type": "Running", "status": "True", "reason": "AllWorkersRunning", "message": "2 workers running on a100",
          "lastTransitionTime": ts(0)}])


def test_requeue_after_preemption_clears_the_allocation_and_flips_the_condition() -> None:
    job = training_job(KEY).phase("Preempted").allocation("a100", "n0").status(conditions=[
        {"type": "Preempted", "status": "True", "reason": "Preempted", "message": "reclaimed",
         "lastTransitionTime": ts(300)}])
    assert _actions(job) == (PatchStatus(TRAINING_JOBS, KEY, {
        "phase": "Queued", "allocation": None,
        "conditions": [{"type": "Preempted", "status": "False", "reason": "Requeued",
                        "message": "workers stopped after checkpointing; waiting to be admitted again",
                        "lastTransitionTime": ts(0)}]}, "7"),)


def test_an_unschedulable_gang_is_requeued_with_the_schedulers_words() -> None:
    actions = _actions(admitted(), w(0), w(1, "Pending").unschedulable(NO_MEMORY, since=300))
    message = f"worker j-worker-1 could not be scheduled for 300s: {NO_MEMORY}; requeued (check spec.resources " \
              "(or the podTemplate's requests) against the nodes' allocatable)"
    assert actions[0] == PatchStatus(TRAINING_JOBS, KEY, {
        "phase": "Queued", "allocation": None, "queue": {"position": None, "reasonCode": "Unschedulable",
                                                          "reason": message, "since": ts(0)},
        "conditions": [{"type": "Admitted", "status": "False", "reason": "Unschedulable", "message": message,
                        "lastTransitionTime": ts(0)}]}, "7")
