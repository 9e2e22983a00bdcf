"""A pod the operator did not create with the name of a job's worker: never adopted, the job held or requeued
naming it, and an elastic job runs on the workers whose names are free."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import DeletePods, EnsureChildren, PatchStatus, RecordEvent
from fairshare.control.ownership import name_squatters
from fairshare.control.snapshot import build_world, tracked_pod
from tests.unit.control.builders import NOW, gpu_class, node, pod, store_of, tenant, training_job, worker
from tests.unit.control.helpers import plan

CLUSTER = (gpu_class("a100"), tenant("nlp"), node("n0").gpu_class("a100").gpus(8),
           node("n1").gpu_class("a100").gpus(8))
SQUATTER = pod("nlp/j-worker-0").phase("Running")  # no owner, no labels, no GPUs: a plain pod with a worker's name
HELD = ("PodNameTaken", "pod nlp/j-worker-0 (rank 0), which the operator did not create, has the name of this job's "
                        "worker; it stays queued until the name is free: delete it (kubectl delete pod -n nlp "
                        "j-worker-0), or submit the job under another name")


@pytest.mark.parametrize(("pods", "ranks", "want"), [
    pytest.param([SQUATTER], 1, {0: "nlp/j-worker-0"}, id="a plain pod with rank 0's name"),
    pytest.param([pod("nlp/j-worker-1").job("j").generation(1).rank(1)], 2, {1: "nlp/j-worker-1"},
                 id="the operator's labels alone do not make it the job's"),
    pytest.param([pod("nlp/j-worker-2")], 2, {}, id="a rank the job cannot have"),
    pytest.param([worker("nlp/j", 0)], 1, {}, id="the job's own worker"),
    pytest.param([worker("nlp/j", 0).owned_by("uid-of-an-earlier-j")], 1, {},
                 id="an earlier job's of the same name: the operator deletes it, not a squatter"),
    pytest.param([pod("cv/j-worker-0")], 1, {}, id="another namespace's pod of that name"),
])
def test_name_squatters(pods: list[Any], ranks: int, want: dict[int, str]) -> None:
    bodies = {f"{p.body()['metadata']['namespace']}/{p.body()['metadata']['name']}": p.body() for p in pods}
    assert name_squatters("nlp", "j", ranks, bodies) == want


def test_a_pod_named_as_a_worker_is_kept_in_the_store_even_without_gpus_or_owner() -> None:
    assert (tracked_pod(SQUATTER.body()), tracked_pod(pod("nlp/web-0").body())) == (True, False)


def _patch(actions: Any, key: str = "nlp/j") -> dict[str, Any]:
    return next(a.status for a in actions if isinstance(a, PatchStatus) and a.key == key)


def test_a_queued_job_whose_worker_name_is_taken_is_held_naming_the_pod_and_the_fix() -> None:
    actions = plan([*CLUSTER, training_job("nlp/j").gpus(4), SQUATTER]).actions
    status = _patch(actions)
    assert ((status["phase"], status["queue"]["reasonCode"], status["queue"]["reason"]),
            [a for a in actions if isinstance(a, EnsureChildren | DeletePods)]) == (("Queued", *HELD), [])


def test_once_the_name_is_free_the_job_is_admitted() -> None:
    held = training_job("nlp/j").gpus(4).phase("Queued").status(queue={"position": None, "reasonCode": HELD[0],
                                                                     "reason": HELD[1]})
    actions = plan([*CLUSTER, held]).actions
    assert (_patch(actions)["phase"], [p["metadata"]["name"] for a in actions if isinstance(a, EnsureChildren)
                                       for p in a.pods]) == ("Admitted", ["j-worker-0"])


def test_an_elastic_job_is_admitted_on_the_workers_whose_names_are_free() -> None:
    job = training_job("nlp/j").gpus(8).workers(1, 2)
    actions = plan([*CLUSTER, job, pod("nlp/j-worker-1")]).actions
    assert (_patch(actions)["phase"], _patch(actions)["allocation"]["workers"]) == ("Admitted", 1)


def test_an_admitted_gang_whose_worker_name_was_taken_is_requeued_at_once_not_adopted() -> None:
    """The squatter came between the admission and the creation of the pods (or while the operator was down): the
    create was refused (AlreadyExists), so the gang can never start. It goes back to the queue, freeing its GPUs, with
    an Event; the pod is neither deleted nor taken for the worker."""
    admitted = training_job("nlp/j").rv(7).workers(2).gpus(8).phase("Admitted").allocation("a100", "n0", "n1")
    bodies = [*CLUSTER, admitted, worker("nlp/j", 0, node_name="n0", gpus=8, phase="Pending"),
              pod("nlp/j-worker-1").phase("Running")]
    world = build_world(store_of(*bodies), NOW)
    actions = plan(bodies).actions
    status = _patch(actions)
    events = [(a.type, a.reason) for a in actions if isinstance(a, RecordEvent) and a.job_key == "nlp/j"]
    deleted = [n for a in actions if isinstance(a, DeletePods) for n in a.names]
    assert ([p["metadata"]["name"] for p in world.jobs["nlp/j"].current_pods()], status["phase"],
            status["allocation"], status["queue"]["reasonCode"], events, deleted) == (
        ["j-worker-0"], "Queued", None, "PodNameTaken", [("Warning", "PodNameTaken")], ["j-worker-0"])
    assert "pod nlp/j-worker-1 (rank 1), which the operator did not create" in status["queue"]["reason"]
