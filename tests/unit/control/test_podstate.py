"""Reading a worker pod: why it failed, why it cannot start, whose it is, in the cluster's own words."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.ownership import controller_uid
from fairshare.control.podstate import PodProblem, failure, reason_word, start_problem
from tests.unit.control.builders import NOW, pod, ts, worker

NO_PVC = '0/20 nodes are available: persistentvolumeclaim "nlp-checkpoints" not found. not found'


def ended(**terminated: Any) -> dict[str, Any]:
    body = pod("nlp/p").phase("Failed").body()
    body["status"]["containerStatuses"] = [{"name": "trainer", "state": {"terminated": terminated}}]
    return body


@pytest.mark.parametrize(("body", "want"), [
    pytest.param(ended(exitCode=137, reason="OOMKilled", finishedAt=ts(5)),
                 PodProblem("OOMKilled", "OOMKilled, exit code 137 (container trainer)", NOW - 5), id="OOMKilled"),
    pytest.param(ended(exitCode=1, reason="Error", message="Traceback: boom"),
                 PodProblem("Error", "Error, exit code 1 (container trainer): Traceback: boom"),
                 id="an error with the container's message"),
    pytest.param(ended(exitCode=2), PodProblem("Error", "Error, exit code 2 (container trainer)"),
                 id="no reason: Error"),
    pytest.param(ended(exitCode=128, reason="ContainerCannotRun", message="exec: \"python\": not found"),
                 PodProblem("ContainerCannotRun",
                            "ContainerCannotRun, exit code 128 (container trainer): exec: \"python\": not found"),
                 id="the container could not run"),
    pytest.param(pod("nlp/p").phase("Failed").status(reason="Evicted", message="The node was low on memory.").body(),
                 PodProblem("Evicted", "Evicted: The node was low on memory."), id="evicted: the pod's own reason"),
    pytest.param(pod("nlp/p").phase("Failed").body(),
                 PodProblem("Failed", "the pod failed without a reason (exit code unknown)"), id="nothing said"),
])
def test_failure(body: dict[str, Any], want: PodProblem) -> None:
    assert failure(body) == want


@pytest.mark.parametrize(("built", "want"), [
    pytest.param(pod("nlp/p").waiting("ImagePullBackOff", 'Back-off pulling image "registry.invalid/x:0"', 40),
                 PodProblem("ImagePullBackOff", 'ImagePullBackOff: Back-off pulling image "registry.invalid/x:0" '
                                                "(container trainer)", NOW - 40), id="image pull back-off"),
    pytest.param(pod("nlp/p").waiting("CreateContainerConfigError", 'secret "hf-token" not found', 10),
                 PodProblem("CreateContainerConfigError",
                            'CreateContainerConfigError: secret "hf-token" not found (container trainer)', NOW - 10),
                 id="a missing Secret"),
    pytest.param(pod("nlp/p").waiting("CrashLoopBackOff", "", 10),
                 PodProblem("CrashLoopBackOff", "CrashLoopBackOff: no message (container trainer)", NOW - 10),
                 id="crash loop"),
    pytest.param(pod("nlp/p").waiting("ContainerCreating", "", 900), None, id="creating is progress"),
    pytest.param(pod("nlp/p").phase("Pending").unschedulable(NO_PVC, since=30),
                 PodProblem("PVCNotFound", "PVC nlp-checkpoints not found: create it in the job's namespace, or fix "
                                           "the claim name (spec.checkpoint.claimName or a spec.podTemplate volume)",
                            NOW - 30), id="a missing PVC, in kube-scheduler's words"),
    pytest.param(pod("nlp/p").phase("Pending").unschedulable(
        '0/20 nodes are available: persistentvolumeclaim "ckpt" is being deleted.', since=30),
                 PodProblem("PVCBeingDeleted", "PVC ckpt is being deleted", NOW - 30), id="a PVC being deleted"),
    pytest.param(pod("nlp/p").phase("Pending").unschedulable(
        "0/3 nodes are available: 3 Insufficient memory.", since=30), None,
                 id="unschedulable for memory: not a start failure (rule_unschedulable's)"),
    pytest.param(pod("nlp/p").waiting("ImagePullBackOff", "x", 10).phase("Running"), None,
                 id="a running pod: nothing"),
])
def test_start_problem(built: Any, want: PodProblem | None) -> None:
    assert start_problem(built.body()) == want


@pytest.mark.parametrize(("built", "want"), [
    pytest.param(worker("nlp/j", 0), "uid-nlp-j", id="the operator's worker"),
    pytest.param(worker("nlp/j", 0).owned_by(None), None, id="no owner"),
    pytest.param(pod("nlp/p").status(), None, id="a plain pod"),
])
def test_controller_uid(built: Any, want: str | None) -> None:
    assert controller_uid(built.body()) == want


def test_a_pod_controlled_by_something_else_is_not_a_jobs() -> None:
    body = worker("nlp/j", 0).body()
    body["metadata"]["ownerReferences"][0]["kind"] = "ReplicaSet"
    assert controller_uid(body) is None


@pytest.mark.parametrize(("raw", "want"), [("OOMKilled", "OOMKilled"), ("Un-known reason!", "Unknownreason"),
                                           ("42abc", "abc"), ("", "Error"), (None, "Error")])
def test_reason_word_fits_the_condition_reason_pattern(raw: object, want: str) -> None:
    assert reason_word(raw, "Error") == want
