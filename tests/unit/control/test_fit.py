"""Workers' CPU, memory and scratch against the nodes of the classes a job accepts: narrowing, or why none fits."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import PatchStatus
from fairshare.control.fit import Fit
from fairshare.control.snapshot import build_world
from fairshare.control.store import TRAINING_JOBS
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, ts
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import of_kind, plan, rows

Bodies = list[Any]


FLEET = [gpu_class("a100"), gpu_class("l4"), tenant("nlp"),
         node("a100-0").gpu_class("a100").gpus(8).allocatable(cpu="96", memory="1Ti"),
         node("l4-0").gpu_class("l4").gpus(4).allocatable(cpu="48", memory="192Gi"),
         node("l4-1").gpu_class("l4").gpus(4).allocatable(cpu="32", memory="256Gi")]

TOO_BIG_FOR_L4 = ("no node of class l4 can hold one worker: spec.resources.memory 2Ti exceeds the largest node "
                  "allocatable memory (256Gi); lower spec.resources, or list a class with bigger nodes in "
                  "spec.gpuClasses")


@pytest.mark.parametrize(("job", "want"), [
    pytest.param(training_job("nlp/j"), Fit(), id="no requests: nothing to compare"),
    pytest.param(training_job("nlp/j").resources(cpu="8", memory="64Gi"), Fit(), id="fits everywhere"),
    pytest.param(training_job("nlp/j").resources(memory="200Gi"), Fit(), id="fits the bigger l4 node"),
    pytest.param(training_job("nlp/j").resources(memory="512Gi"), Fit(classes=("a100",)),
                 id="any class: narrowed to the class with a big enough node"),
    pytest.param(training_job("nlp/j").classes("l4", "a100").resources(memory="512Gi"), Fit(classes=("a100",)),
                 id="listed classes: narrowed, in the job's order"),
    pytest.param(training_job("nlp/j").classes("l4").resources(memory="2Ti"), Fit(problem=TOO_BIG_FOR_L4),
                 id="its only class is too small"),
    pytest.param(training_job("nlp/j").classes("l4").resources(cpu="40", memory="200Gi"),
                 Fit(problem="no node of class l4 can hold one worker: no single node has room for all of "
                             "spec.resources.cpu 40, spec.resources.memory 200Gi; lower spec.resources, or list a "
                             "class with bigger nodes in spec.gpuClasses"),
                 id="each request fits some node, both fit none"),
    pytest.param(training_job("nlp/j").resources(cpu="100", memory="2Ti"),
                 Fit(problem="no node of classes a100, l4 can hold one worker: spec.resources.cpu 100 exceeds the "
                             "largest node allocatable cpu (96); spec.resources.memory 2Ti exceeds the largest node "
                             "allocatable memory (1Ti); lower spec.resources, or list a class with bigger nodes in "
                             "spec.gpuClasses"),
                 id="no class at all: every request too big is named"),
    pytest.param(training_job("nlp/j").classes("h200").resources(memory="2Ti"), Fit(),
                 id="a class with no nodes is left to the core"),
    pytest.param(training_job("nlp/j").spec(image=None, command=None, podTemplate={"spec": {"containers": [
        {"image": "img:1", "resources": {"limits": {"memory": "300Gi"}, "requests": {"cpu": "4"}}}]}}),
        Fit(classes=("a100",)), id="a template limit without a request is the request"),
    pytest.param(training_job("nlp/j").classes("l4").spec(image=None, command=None, podTemplate={"spec": {
        "containers": [{"image": "img:1", "resources": {"requests": {"memory": "1Ti", "ephemeral-storage": "1Pi"}}}]}}),
        Fit(problem="no node of class l4 can hold one worker: spec.podTemplate.spec.containers[0].resources.requests"
                    ".memory 1Ti exceeds the largest node allocatable memory (256Gi); lower "
                    "spec.podTemplate.spec.containers[0].resources.requests, or list a class with bigger nodes in "
                    "spec.gpuClasses"),
        id="template requests; scratch the nodes do not report is not compared"),
])
def test_jobs_are_narrowed_to_classes_whose_nodes_hold_a_worker(job: Any, want: Fit) -> None:
    world = build_world(store_of(*FLEET, job), NOW)
    assert world.jobs["nlp/j"].fit == want


@pytest.mark.parametrize(("job", "want_classes"), [
    pytest.param(training_job("nlp/j").resources(memory="512Gi"), ("a100",), id="pending: narrowed"),
    pytest.param(training_job("nlp/j").resources(memory="2Ti"), None, id="pending, nothing fits: left out"),
    pytest.param(training_job("nlp/j").resources(memory="512Gi").phase("Running").allocation("l4", "l4-0"),
                 ("l4", "a100"), id="running on a class too small: keeps its own class, and is not dropped"),
])
def test_the_core_sees_only_classes_that_fit(job: Any, want_classes: tuple[str, ...] | None) -> None:
    jobs = build_world(store_of(*FLEET, job), NOW).snapshot.jobs
    assert (jobs[0].gpu_classes if jobs else None) == want_classes


def test_a_job_no_node_can_hold_stays_queued_with_the_field_named_and_launches_nothing() -> None:
    store = store_of(*FLEET, training_job("nlp/huge").classes("l4").resources(memory="2Ti"))
    first = plan(store)
    assert (first.result.decisions, rows(first.actions, "nlp/huge")) == ((), [("patch", "nlp/huge", "Queued", None)])
    assert of_kind(first.actions, PatchStatus)[0] == PatchStatus(TRAINING_JOBS, "nlp/huge", {
        "phase": "Queued", "tenant": "nlp", "queue": {"position": None, "reasonCode": "NoNodeFits",
                                                      "reason": TOO_BIG_FOR_L4, "since": ts(0)},
        "conditions": [{"type": "Admitted", "status": "False", "reason": "NoNodeFits", "message": TOO_BIG_FOR_L4,
                        "lastTransitionTime": ts(0)}]})
    FakeCluster(store).apply(first.actions)
    assert rows(plan(store, NOW + 10).actions, "nlp/huge") == []


def test_a_job_narrowed_to_a_class_is_admitted_there() -> None:
    result = plan([*FLEET, training_job("nlp/big").resources(memory="512Gi")])
    assert [(d.job_key, getattr(d, "gpu_class", None)) for d in result.result.decisions] == [("nlp/big", "a100")]
