"""Whose a pod is: only the operator's own pods are a job's workers; labels and a borrowed owner name never count."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import DeletePods
from fairshare.control.ownership import ForeignPod, controlling_job, created_for
from fairshare.control.snapshot import build_world
from tests.unit.control.builders import NOW, gpu_class, node, pod, store_of, tenant, training_job, worker
from tests.unit.control.helpers import plan

UID = "uid-nlp-j"


def _other_group(built: Any) -> Any:
    body = built.body()
    body["metadata"]["ownerReferences"][0]["apiVersion"] = "evil.example.com/v1"
    return body


def _not_controller(built: Any) -> Any:
    body = built.body()
    body["metadata"]["ownerReferences"][0]["controller"] = False
    return body


@pytest.mark.parametrize(("body", "job", "current"), [
    pytest.param(worker("nlp/j", 0, generation=2).body(), "nlp/j", True, id="the operator's worker"),
    pytest.param(worker("nlp/j", 0, generation=1).body(), "nlp/j", False,
                 id="the operator's worker of an earlier generation: the job's, not its current gang's"),
    pytest.param(worker("nlp/j", 0, generation=2).owned_by(None).body(), None, False,
                 id="every label of a worker but no owner reference: nobody's"),
    pytest.param(pod("nlp/mine").job("j").generation(2).rank(0).body(), None, False,
                 id="a user's pod labelled fairshare.dev/job=j: nobody's"),
    pytest.param(worker("nlp/j", 0, generation=2).owned_by("uid-of-an-earlier-j").body(), "nlp/j", False,
                 id="controlled by an earlier job of the same name (another uid)"),
    pytest.param(_other_group(worker("nlp/j", 0, generation=2)), None, False,
                 id="a TrainingJob of another API group"),
    pytest.param(_not_controller(worker("nlp/j", 0, generation=2)), None, False,
                 id="an owner reference that is not the controller"),
    pytest.param(pod("nlp/x").job("j").generation(2)._label("fairshare.dev/rank", "zero").owned_by(UID).body(),
                 "nlp/j", False, id="a rank that is not a number"),
    pytest.param(pod("nlp/mine").job("j").generation(2).rank(0).owned_by(UID).body(), "nlp/j", False,
                 id="the job's owner reference and labels copied onto a pod of another name: not a worker"),
    pytest.param(pod("nlp/j-worker-1").job("j").generation(2).rank(0).owned_by(UID).body(), "nlp/j", False,
                 id="another rank's name"),
])
def test_created_for(body: Any, job: str | None, current: bool) -> None:
    assert (controlling_job(body), created_for(body, UID, 2)) == (job, current)


RUNNING = training_job("nlp/j").gpus(4).phase("Running").allocation("a100", "n0", generation=2)
CLUSTER = (gpu_class("a100"), tenant("nlp"), node("n0").gpu_class("a100").gpus(8))


def test_a_pod_labelled_as_a_running_jobs_worker_is_foreign_and_left_alone() -> None:
    """The issue's attack: a user labels their own GPU pod fairshare.dev/job=<running job> (generation and rank too).
    The operator counts its GPUs as taken, does not take it for a worker, and does not delete it."""
    impostor = pod("nlp/mine").job("j").generation(2).rank(0).on("n0").gpus(4).phase("Running")
    bodies = (*CLUSTER, RUNNING, worker("nlp/j", 0, generation=2, node_name="n0", gpus=4), impostor)
    world = build_world(store_of(*bodies), NOW)
    view = world.jobs["nlp/j"]
    deleted = [name for a in plan(bodies).actions if isinstance(a, DeletePods) for name in a.names]
    assert ([p["metadata"]["name"] for p in view.current_pods()], world.foreign,
            [n.gpus for n in world.snapshot.nodes], deleted) == (
        ["j-worker-0"], (ForeignPod("nlp/mine", "n0", 4),), [4], [])


def test_a_pod_that_copied_a_jobs_owner_reference_under_another_name_is_deleted_not_counted() -> None:
    """A user who copies the job's uid into a controller owner reference (and its labels) on a pod of another name:
    not one of the job's workers, and, as it claims to be the operator's, deleted like any pod the status does not
    hold."""
    forged = pod("nlp/mine").job("j").generation(2).rank(0).owned_by(UID).on("n0").gpus(4).phase("Running")
    bodies = (*CLUSTER, RUNNING, worker("nlp/j", 0, generation=2, node_name="n0", gpus=4).owned_by(UID), forged)
    world = build_world(store_of(*bodies), NOW)
    deleted = [name for a in plan(bodies).actions if isinstance(a, DeletePods) for name in a.names]
    assert ([p["metadata"]["name"] for p in world.jobs["nlp/j"].current_pods()], deleted) == (["j-worker-0"], ["mine"])
