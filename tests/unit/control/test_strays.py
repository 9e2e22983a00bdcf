"""Worker pods a job's status disowns are deleted (the pod deletions of a cycle that was cut short); its own are not."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.snapshot import build_world
from fairshare.control.strays import disowned_pods, stray_pod_actions
from tests.unit.control.builders import NOW, gpu_class, node, pod, store_of, tenant, training_job, worker
from tests.unit.control.helpers import plan, rows

KEY = "nlp/j"
FLEET = (gpu_class("a100"), tenant("nlp"), node("n0").gpu_class("a100").gpus(8), node("n1").gpu_class("a100").gpus(8))


def job() -> Any:
    return training_job(KEY).workers(2).gpus(4)


@pytest.mark.parametrize(("bodies", "disowned"), [
    pytest.param([job().phase("Running").allocation("a100", "n0", "n1"),
                  worker(KEY, 0, node_name="n0"), worker(KEY, 1, node_name="n1")], (),
                 id="a running gang keeps its workers"),
    pytest.param([job().phase("Preempted").allocation("a100", "n0", "n1"),
                  worker(KEY, 0, node_name="n0"), worker(KEY, 1, node_name="n1")], ("j-worker-0", "j-worker-1"),
                 id="preempted, its workers never told: they are stopped"),
    pytest.param([job().phase("Succeeded").allocation("a100", "n0", "n1"),
                  worker(KEY, 0, phase="Succeeded", node_name="n0"), worker(KEY, 1, node_name="n1")], ("j-worker-1",),
                 id="finished with a worker still running: that one is stopped, the finished one kept"),
    pytest.param([job().phase("Queued").restarts(1),
                  worker(KEY, 0, phase="Failed", node_name="n0"), worker(KEY, 1, node_name="n1")], ("j-worker-1",),
                 id="requeued to restart, the old gang's live worker stopped"),
    pytest.param([job().phase("Admitted").allocation("a100", "n0", "n1", generation=2),
                  worker(KEY, 0, generation=1, node_name="n0"), worker(KEY, 1, generation=2, node_name="n1")],
                 ("j-worker-0",), id="resized: the old generation's worker is stopped, the new one kept"),
    pytest.param([job().phase("Preempted").allocation("a100", "n0", "n1"),
                  pod("nlp/imposter").job("j").generation(1).rank(0).phase("Running").on("n0")], (),
                 id="a user's pod that copies only the job's labels is not ours to delete"),
    pytest.param([job().phase("Queued"), pod("nlp/x").job("j").phase("Running").on("n0")], (),
                 id="nor one without a rank"),
])
def test_disowned_pods(bodies: list[Any], disowned: tuple[str, ...]) -> None:
    world = build_world(store_of(*FLEET, *bodies), NOW)
    assert disowned_pods(world.jobs[KEY]) == disowned


def test_terminating_pods_are_not_deleted_again_and_jobs_acted_on_this_cycle_are_left_to_that() -> None:
    terminating = worker(KEY, 0, node_name="n0").body()
    terminating["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    world = build_world(store_of(*FLEET, job().phase("Preempted").allocation("a100", "n0", "n1"), terminating,
                                 worker(KEY, 1, node_name="n1")), NOW)
    assert rows(stray_pod_actions(world, set())) == [("delete", KEY, ("j-worker-1",))]
    assert stray_pod_actions(world, {KEY}) == []


def test_a_cycle_finishes_a_preemption_whose_deletion_never_went_out() -> None:
    result = plan([*FLEET, job().phase("Preempted").allocation("a100", "n0", "n1"),
                   worker(KEY, 0, node_name="n0"), worker(KEY, 1, node_name="n1")])
    assert rows(result.actions, KEY) == [("delete", KEY, ("j-worker-0", "j-worker-1"))]
