"""A TrainingJob being deleted (metadata.deletionTimestamp set) gets no further status writes, whatever its state:
its pods are still deleted, and the jobs behind it in the queue move up."""

from __future__ import annotations

import pytest

from fairshare.control.actions import DeletePods, PatchStatus
from fairshare.control.store import TRAINING_JOBS
from tests.unit.control.builders import JobBuilder, gpu_class, node, tenant, training_job, worker
from tests.unit.control.helpers import plan

CLUSTER = [gpu_class("a100").price(2.5).power(400), tenant("nlp").guaranteed(a100=8),
           node("a100-000").gpu_class("a100").gpus(8), node("a100-001").gpu_class("a100").gpus(8)]


def job() -> JobBuilder:
    return training_job("nlp/bert").gpus(8).created(600).deleting(5)


def queued_at(position: int) -> JobBuilder:
    return job().phase("Queued").status(tenant="nlp", queue={"position": position, "reason": "waiting"})


@pytest.mark.parametrize(("state", "pods"), [
    pytest.param(job(), [], id="new, never written"),
    pytest.param(queued_at(3), [], id="queued, with a queue position"),
    pytest.param(job().workers(2).gpus(8).phase("Admitted").allocation("a100", "a100-000", "a100-001"),
                 [worker("nlp/bert", 0, phase="Pending"), worker("nlp/bert", 1, phase="Pending")],
                 id="admitted, pods pending"),
    pytest.param(job().phase("Running").allocation("a100", "a100-000").started(600).cost(1.0, accrued_ago=60),
                 [worker("nlp/bert", 0, node_name="a100-000", gpus=8)], id="running, charged a minute ago"),
    pytest.param(job().phase("Running").allocation("a100", "a100-000").started(600).cost(1.0, accrued_ago=60),
                 [worker("nlp/bert", 0, phase="Failed", node_name="a100-000", gpus=8)], id="running, a worker failed"),
    pytest.param(job().phase("Running").allocation("a100", "a100-000").started(600), [],
                 id="running, its pods gone"),
    pytest.param(job().phase("Preempted").allocation("a100", "a100-000").started(600),
                 [worker("nlp/bert", 0, node_name="a100-000", gpus=8)], id="preempted, draining"),
    pytest.param(job().spec(gpusPerWorker=0), [], id="invalid spec"),
    pytest.param(training_job("other/bert").gpus(8).created(600).deleting(5), [], id="namespace of no tenant"),
])
def test_a_job_being_deleted_gets_no_status_write(state: JobBuilder, pods: list[object]) -> None:
    result = plan([*CLUSTER, state, *pods])
    key = state.body()["metadata"]["namespace"] + "/bert"
    assert [a for a in result.actions if isinstance(a, PatchStatus) and a.kind == TRAINING_JOBS
            and a.key == key] == []


def test_its_pods_are_still_deleted() -> None:
    running = job().phase("Running").allocation("a100", "a100-000").started(600)
    result = plan([*CLUSTER, running, worker("nlp/bert", 0, node_name="a100-000", gpus=8)])
    assert [(a.job_key, a.names) for a in result.actions if isinstance(a, DeletePods)] == [
        ("nlp/bert", ("bert-worker-0",))]


def test_the_job_behind_it_moves_up_while_it_is_written_nothing() -> None:
    ahead = queued_at(0).workers(2)
    behind = (training_job("nlp/gpt").gpus(8).workers(3).created(300).phase("Queued")
              .status(tenant="nlp", queue={"position": 1, "reason": "waiting"}))
    written = {a.key: a.status for a in plan([*CLUSTER, ahead, behind]).actions
               if isinstance(a, PatchStatus) and a.kind == TRAINING_JOBS}
    assert "nlp/bert" not in written
    assert written["nlp/gpt"]["queue"]["position"] == 0
