"""Pods to intent: which pods a job's status holds, which are deleted (gracefully or at once), which are recreated."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import DeletePods
from fairshare.control.reconcile import belongs, lost_nodes, missing_ranks, unwanted_pod_actions
from fairshare.control.snapshot import build_world
from tests.unit.control.builders import NOW, JobBuilder, node, pod, store_of, tenant, training_job, ts, worker

KEY = "nlp/j"
NODES = [node(f"n{i}").gpu_class("a100").gpus(8) for i in range(3)]


def job(phase: str | None, generation: int = 2, workers: int = 2) -> JobBuilder:
    built = training_job(KEY).workers(workers).gpus(8)
    if phase is not None:
        built = built.phase(phase)
    if phase in ("Admitted", "Running", "Preempted", "Succeeded", "Failed"):
        built = built.allocation("a100", *[f"n{i}" for i in range(workers)], generation=generation)
    return built


def w(rank: int, generation: int = 2, phase: str = "Running") -> Any:
    return worker(KEY, rank, generation=generation, phase=phase, node_name=f"n{rank}", gpus=8)


def deletions(bodies: list[Any], skip: frozenset[str] = frozenset(), lost: dict[str, str] | None = None) -> list[Any]:
    world = build_world(store_of(tenant("nlp"), *NODES, *bodies), NOW)
    return [("force" if a.force else "graceful", a.job_key, a.names)
            for a in unwanted_pod_actions(world, skip, lost or {}) if isinstance(a, DeletePods)]


@pytest.mark.parametrize(("bodies", "want"), [
    pytest.param([job("Running"), w(0), w(1)], [], id="Running with exactly its workers: nothing"),
    pytest.param([job("Admitted"), w(0, phase="Pending")], [], id="Admitted, a worker still to come: nothing deleted"),
    pytest.param([job("Admitted"), w(0, generation=1), w(1, generation=1)],
                 [("graceful", KEY, ("j-worker-0", "j-worker-1"))],
                 id="resized or moved, the old generation still live (crash after the status write): deleted"),
    pytest.param([job("Admitted"), w(0, generation=1, phase="Failed")], [("graceful", KEY, ("j-worker-0",))],
                 id="an old generation's finished pod holds a name the new gang needs: deleted"),
    pytest.param([job("Running", workers=1), w(0), w(1)], [("graceful", KEY, ("j-worker-1",))],
                 id="a rank beyond the allocation (shrunk): deleted"),
    pytest.param([job("Preempted"), w(0), w(1)], [("graceful", KEY, ("j-worker-0", "j-worker-1"))],
                 id="Preempted, pods live (crash between the status write and the deletion): deleted"),
    pytest.param([job("Queued").restarts(1), w(0), w(1, phase="Failed")],
                 [("graceful", KEY, ("j-worker-0", "j-worker-1"))],
                 id="restarting after a failure, pods left (crash): deleted, the failed one too (names are reused)"),
    pytest.param([job(None), w(0)], [("graceful", KEY, ("j-worker-0",))], id="no status yet: holds no pod"),
    pytest.param([job("Succeeded"), w(0, phase="Succeeded"), w(1)], [("graceful", KEY, ("j-worker-1",))],
                 id="finished: the live pod deleted, the finished one kept for its logs"),
    pytest.param([job("Failed"), w(0, phase="Failed"), w(1, phase="Failed")], [],
                 id="Failed with only finished pods: kept for their logs"),
    pytest.param([job("Preempted"), w(0).deleting(), w(1).deleting()], [],
                 id="already being deleted: not asked again"),
    pytest.param([w(0), w(1), w(2, phase="Succeeded")], [("graceful", KEY, ("j-worker-0", "j-worker-1"))],
                 id="the job is gone: its live pods deleted (the garbage collector may be slower; it takes the rest)"),
    pytest.param([job("Running"), w(0).owned_by("uid-of-an-older-j"), w(1)],
                 [("graceful", KEY, ("j-worker-0",))],
                 id="a pod left by an earlier job of the same name (another uid): deleted"),
    pytest.param([job("Queued"), w(0).owned_by(None), pod("nlp/x").job("j").rank(0).generation(2)], [],
                 id="pods no TrainingJob controls are not the operator's, whatever their labels"),
    pytest.param([job("Queued").workers(3, 2), w(0)], [], id="a job the operator cannot parse: left alone"),
    pytest.param([job("Running").deleting(5), w(0), w(1)], [("graceful", KEY, ("j-worker-0", "j-worker-1"))],
                 id="a job being deleted (foreground) holds no pod"),
])
def test_unwanted_pods_are_deleted(bodies: list[Any], want: list[Any]) -> None:
    assert deletions(bodies) == want


def test_a_job_decided_this_cycle_carries_its_own_deletions() -> None:
    assert deletions([job("Preempted"), w(0), w(1)], skip=frozenset({KEY})) == []


@pytest.mark.parametrize(("bodies", "want"), [
    pytest.param([job("Preempted"), w(0), w(1).deleting()],
                 [("graceful", KEY, ("j-worker-0",)), ("force", KEY, ("j-worker-1",))],
                 id="on a lost node, even while being deleted: at once (no kubelet there to finish it)"),
    pytest.param([w(1)], [("force", KEY, ("j-worker-1",))], id="a gone job's pod on a lost node: at once"),
])
def test_pods_on_lost_nodes_are_deleted_at_once(bodies: list[Any], want: list[Any]) -> None:
    assert deletions(bodies, lost={"n1": "node n1 no longer exists"}) == want


@pytest.mark.parametrize(("phase", "pod_body", "want"), [
    pytest.param("Running", w(0), True, id="current generation, rank in range"),
    pytest.param("Running", w(0, generation=1), False, id="older generation"),
    pytest.param("Running", w(0).rank(5), False, id="rank out of range"),
    pytest.param("Running", w(0).rank(0)._label("fairshare.dev/rank", "x"), False, id="rank not a number"),
    pytest.param("Preempted", w(0), False, id="Preempted holds none"),
    pytest.param("Succeeded", w(0, phase="Succeeded"), True, id="a finished job keeps finished pods"),
    pytest.param("Succeeded", w(0, phase="Pending"), False, id="but no live one"),
])
def test_belongs(phase: str, pod_body: Any, want: bool) -> None:
    view = build_world(store_of(tenant("nlp"), job(phase), pod_body), NOW).jobs[KEY]
    assert belongs(view, pod_body.body()) is want


@pytest.mark.parametrize(("bodies", "want"), [
    pytest.param([job("Admitted")], [0, 1], id="none yet: every rank"),
    pytest.param([job("Admitted"), w(1, phase="Pending")], [0], id="one there: the other"),
    pytest.param([job("Admitted"), w(0, generation=1).deleting()], [1],
                 id="an old pod still holds rank 0's name: rank 1 only"),
    pytest.param([job("Queued")], [], id="no allocation: none"),
])
def test_missing_ranks(bodies: list[Any], want: list[int]) -> None:
    view = build_world(store_of(tenant("nlp"), *bodies), NOW).jobs[KEY]
    assert missing_ranks(view) == want


@pytest.mark.parametrize(("nodes", "want"), [
    pytest.param(NODES, {}, id="all Ready"),
    pytest.param(NODES[:1], {"n1": "node n1 no longer exists"}, id="a deleted node the allocation names"),
    pytest.param([NODES[0], node("n1").status(conditions=[
        {"type": "Ready", "status": "Unknown", "lastTransitionTime": ts(61)}])],
                 {"n1": "node n1 has not been Ready for 61s (grace 60s)"}, id="NotReady past the grace"),
    pytest.param([NODES[0], node("n1").status(conditions=[
        {"type": "Ready", "status": "False", "lastTransitionTime": ts(59)}])], {}, id="NotReady within the grace"),
    pytest.param([NODES[0], node("n1").cordoned()], {}, id="cordoned is not lost"),
    pytest.param([NODES[0], node("n1").status(conditions=[])], {}, id="no Ready condition yet: new, not lost"),
])
def test_lost_nodes(nodes: list[Any], want: dict[str, str]) -> None:
    world = build_world(store_of(tenant("nlp"), *nodes, job("Running"), w(0), w(1)), NOW)
    assert lost_nodes(world, NOW, 60.0) == want
