"""The invariant checker of the fault-injection tests (tests/support/invariants.py), on hand-built objects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.invariants import (
    CHARGED_AFTER_FINISH,
    CLASS_OVER_CAPACITY,
    COST_DECREASED,
    DOUBLE_ADMISSION,
    DUPLICATE_RANK,
    NODE_OVER_CAPACITY,
    PARTIAL_GANG,
    PODS_WITHOUT_ADMISSION,
    RESTARTED_AFTER_FINISH,
    TENANT_OVER_LIMIT,
    InvariantWatch,
    Observation,
    check,
    quantity,
    unheld_pods,
)
from tests.unit.control.builders import NOW, gpu_class, node, pod, tenant, training_job, ts, worker

Row = tuple[str, str]


def observation(*objects: Any, at: float = NOW) -> Observation:
    """Sort bodies (or builders) by kind into one observation taken at `at`."""
    kinds: dict[str, list[dict[str, Any]]] = {"GPUClass": [], "Tenant": [], "TrainingJob": [], "Pod": [], "Node": []}
    for one in objects:
        body = one.body() if hasattr(one, "body") else one
        kinds[body["kind"]].append(body)
    return Observation(kinds["GPUClass"], kinds["Tenant"], kinds["TrainingJob"], kinds["Pod"], kinds["Node"], at)


def rows(violations: list[Any]) -> list[Row]:
    return [(v.kind, v.subject) for v in violations]


def deleting(built: Any) -> dict[str, Any]:
    """The pod as it is once deleted and still terminating."""
    body: dict[str, Any] = built.body()
    body["metadata"]["deletionTimestamp"] = ts(1)
    return body


def foreign_pod(name: str, gpus: str, node_name: str = "a100-0") -> dict[str, Any]:
    """A pod that is not the operator's, holding GPUs (the API server writes 1000 as "1k")."""
    body: dict[str, Any] = pod(f"other/{name}").on(node_name).phase("Running").body()
    body["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": gpus},
                                                  "requests": {"nvidia.com/gpu": gpus}}
    return body


def running(key: str, *nodes: str, gpus: int = 4, generation: int = 1, phase: str = "Running") -> Any:
    return training_job(key).gpus(gpus).workers(len(nodes)).phase(phase).allocation(
        "a100", *nodes, generation=generation)


FLEET = (gpu_class("a100"), node("a100-0").gpu_class("a100").gpus(8), node("a100-1").gpu_class("a100").gpus(8))


@pytest.mark.parametrize(("objects", "want"), [
    pytest.param([], [], id="an idle cluster"),
    pytest.param([running("nlp/a", "a100-0", gpus=8), worker("nlp/a", 0, node_name="a100-0", gpus=8)], [],
                 id="a node exactly full"),
    pytest.param([running("nlp/a", "a100-0", gpus=8), worker("nlp/a", 0, node_name="a100-0", gpus=8),
                  foreign_pod("hog", "1")], [(NODE_OVER_CAPACITY, "node a100-0")],
                 id="a pod that is not the operator's counts too"),
    pytest.param([foreign_pod("hog", "1k")], [(NODE_OVER_CAPACITY, "node a100-0")],
                 id="a quantity as the API server writes 1000 GPUs"),
    pytest.param([running("nlp/a", "a100-0", gpus=8), worker("nlp/a", 0, node_name="a100-0", gpus=8),
                  worker("cv/old", 0, phase="Succeeded", node_name="a100-0", gpus=8)], [],
                 id="a finished pod frees its GPUs"),
    pytest.param([running("nlp/a", "a100-0", gpus=8), worker("nlp/a", 0, node_name="a100-0", gpus=8),
                  deleting(worker("cv/old", 0, node_name="a100-0", gpus=8))], [(NODE_OVER_CAPACITY, "node a100-0")],
                 id="a terminating pod still holds its GPUs"),
    pytest.param([foreign_pod("orphan", "8", node_name="a100-9")], [],
                 id="a pod bound to a node that was deleted holds no node's GPUs"),
    pytest.param([running("nlp/a", "a100-0", "a100-1", gpus=8), running("cv/b", "a100-0", gpus=8),
                  worker("nlp/a", 0, node_name="a100-0", gpus=8), worker("nlp/a", 1, node_name="a100-1", gpus=8),
                  worker("cv/b", 0, gpus=8)],
                 [(CLASS_OVER_CAPACITY, "class a100")], id="job statuses hold more of a class than it has"),
    pytest.param([tenant("nlp").guaranteed(a100=4).borrowing(a100=4), running("nlp/a", "a100-0", gpus=8),
                  worker("nlp/a", 0, node_name="a100-0", gpus=8)], [], id="a tenant at guarantee + borrowing limit"),
    pytest.param([tenant("nlp").guaranteed(a100=4).borrowing(a100=3), running("nlp/a", "a100-0", gpus=8),
                  worker("nlp/a", 0, node_name="a100-0", gpus=8)], [(TENANT_OVER_LIMIT, "tenant nlp/a100")],
                 id="a tenant over guarantee + borrowing limit"),
    pytest.param([tenant("nlp").guaranteed(a100=4).borrowing(a100=0), running("nlp/a", "a100-0", gpus=8),
                  worker("nlp/a", 0, node_name="a100-0", gpus=8)], [(TENANT_OVER_LIMIT, "tenant nlp/a100")],
                 id="a borrowing limit of zero allows only the guarantee"),
    pytest.param([tenant("nlp").borrowing(h100=0), running("nlp/a", "a100-0", gpus=8),
                  worker("nlp/a", 0, node_name="a100-0", gpus=8)], [],
                 id="a class missing from borrowingLimit has no limit"),
    pytest.param([tenant("nlp").namespaces("nlp", "shared"),
                  tenant("cv").namespaces("cv", "shared").borrowing(a100=0),
                  running("shared/a", "a100-0", gpus=8), worker("shared/a", 0, node_name="a100-0", gpus=8)],
                 [(TENANT_OVER_LIMIT, "tenant cv/a100")],
                 id="a namespace two tenants claim counts for the oldest (then first by name)"),
    pytest.param([running("nlp/a", "a100-0", "a100-1"), worker("nlp/a", 0, node_name="a100-0", gpus=4),
                  worker("nlp/a", 1, node_name="a100-1", gpus=4)], [], id="a whole gang running"),
    pytest.param([running("nlp/a", "a100-0", "a100-1"), worker("nlp/a", 0, node_name="a100-0", gpus=4)],
                 [(PARTIAL_GANG, "job nlp/a")], id="a running gang short of a worker"),
    pytest.param([running("nlp/a", "a100-0", "a100-1", phase="Admitted"),
                  worker("nlp/a", 0, node_name="a100-0", gpus=4)],
                 [(PARTIAL_GANG, "job nlp/a")], id="an admitted gang half created"),
    pytest.param([running("nlp/a", "a100-0", "a100-1", phase="Admitted")], [(PARTIAL_GANG, "job nlp/a")],
                 id="an admission whose pods never came"),
    pytest.param([running("nlp/a", "a100-0", "a100-1"), worker("nlp/a", 0, node_name="a100-0", gpus=4),
                  worker("nlp/a", 1, phase="Failed", node_name="a100-1", gpus=4)],
                 [(PARTIAL_GANG, "job nlp/a")], id="a failed worker leaves a partial gang"),
    pytest.param([training_job("nlp/a").phase("Queued"), worker("nlp/a", 0, node_name="a100-0")],
                 [(PODS_WITHOUT_ADMISSION, "job nlp/a")], id="a queued job with a live pod"),
    pytest.param([training_job("nlp/a").phase("Succeeded"), deleting(worker("nlp/a", 0, node_name="a100-0"))], [],
                 id="a finished job whose pods are terminating"),
    pytest.param([training_job("nlp/a").phase("Preempted"), deleting(worker("nlp/a", 0, node_name="a100-0"))], [],
                 id="a preempted job draining"),
    pytest.param([running("nlp/a", "a100-0", generation=2), worker("nlp/a", 0, generation=2, node_name="a100-0",
                                                                    gpus=4),
                  worker("nlp/a", 1, generation=1, node_name="a100-1", gpus=4)],
                 [(DOUBLE_ADMISSION, "job nlp/a")], id="live pods of two generations"),
    pytest.param([running("nlp/a", "a100-0", generation=2), worker("nlp/a", 0, generation=2, node_name="a100-0",
                                                                    gpus=4),
                  deleting(worker("nlp/a", 1, generation=1, node_name="a100-1", gpus=4))], [],
                 id="a resize: the old generation terminating"),
    pytest.param([running("nlp/a", "a100-0", "a100-1"), worker("nlp/a", 0, node_name="a100-0", gpus=4),
                  pod("nlp/a-copy").job("a").generation(1).rank(0).on("a100-1").gpus(4).phase("Running")
                  .owned_by("uid-nlp-a")],
                 [(DUPLICATE_RANK, "job nlp/a"), (PARTIAL_GANG, "job nlp/a")],
                 id="two live pods of one rank (and so no rank 1)"),
    pytest.param([running("nlp/a", "a100-0", "a100-1"), worker("nlp/a", 0, node_name="a100-0", gpus=4),
                  pod("nlp/a-copy").job("a").generation(1).rank(1).on("a100-1").gpus(4).phase("Running")],
                 [(PARTIAL_GANG, "job nlp/a")],
                 id="a pod with a worker's labels but no owner reference is no worker: rank 1 is missing"),
])
def test_check(objects: list[Any], want: list[Row]) -> None:
    assert rows(check(observation(*FLEET, *objects))) == sorted(want)


def test_a_partial_gang_is_tolerated_for_the_grace_period_from_its_admission() -> None:
    objects = (*FLEET, running("nlp/a", "a100-0", "a100-1", phase="Admitted").allocation(
        "a100", "a100-0", "a100-1", admitted_ago=5))
    assert check(observation(*objects), partial_grace_seconds=10) == []
    assert rows(check(observation(*objects, at=NOW + 6), partial_grace_seconds=10)) == [(PARTIAL_GANG, "job nlp/a")]


def test_a_violation_says_what_and_how_long() -> None:
    (violation,) = check(observation(*FLEET, running("nlp/a", "a100-0", "a100-1", phase="Admitted")))
    assert str(violation) == ("partial-gang: job nlp/a: Admitted with 0 of 2 workers of generation 1 live (ranks none) "
                              "for 3600.0s")


def test_pods_outside_an_admission_are_timed_from_the_oldest_live_pod() -> None:
    stray = worker("nlp/a", 0, node_name="a100-0").body()
    stray["metadata"]["creationTimestamp"] = ts(5)
    objects = (*FLEET, training_job("nlp/a").phase("Queued"), stray)
    assert check(observation(*objects), partial_grace_seconds=10) == []
    assert rows(check(observation(*objects, at=NOW + 6), partial_grace_seconds=10)) == [
        (PODS_WITHOUT_ADMISSION, "job nlp/a")]


@pytest.mark.parametrize(("raw", "want"), [
    pytest.param("8", 8, id="plain"), pytest.param(8, 8, id="a number"), pytest.param("1k", 1000, id="kilo"),
    pytest.param("2M", 2_000_000, id="mega"), pytest.param("1Ki", 1024, id="binary"),
    pytest.param("500m", 0.5, id="milli"), pytest.param("1e3", 1000, id="exponent"), pytest.param(None, 0, id="none"),
])
def test_quantity(raw: Any, want: float) -> None:
    assert quantity(raw) == want


def job_at(phase: str, credits: float | None, uid: str = "uid-1") -> dict[str, Any]:
    built = training_job("nlp/a").phase(phase)
    if credits is not None:
        built = built.cost(credits=credits, gpu_hours=credits, energy_kwh=credits)
    body: dict[str, Any] = built.body()
    body["metadata"]["uid"] = uid
    return body


@pytest.mark.parametrize(("series", "want"), [
    pytest.param([job_at("Running", 1.0), job_at("Running", 2.0), job_at("Succeeded", 2.5)], [],
                 id="a ledger that only grows"),
    pytest.param([job_at("Running", 2.0), job_at("Running", 1.0)], [(COST_DECREASED, "job nlp/a")],
                 id="credits that go back"),
    pytest.param([job_at("Running", 2.0), job_at("Running", None)], [(COST_DECREASED, "job nlp/a")],
                 id="a cost that disappears"),
    pytest.param([job_at("Succeeded", 2.0), job_at("Succeeded", 3.0)], [(CHARGED_AFTER_FINISH, "job nlp/a")],
                 id="a finished job charged again"),
    pytest.param([job_at("Failed", 2.0), job_at("Queued", 2.0), job_at("Failed", 2.0)],
                 [(RESTARTED_AFTER_FINISH, "job nlp/a")], id="a finished job restarted"),
    pytest.param([job_at("Succeeded", 5.0), job_at("Queued", None, uid="uid-2")], [],
                 id="a job deleted and created again under its name starts from zero"),
])
def test_watch_ledger(series: list[dict[str, Any]], want: list[Row]) -> None:
    watch = InvariantWatch()
    for i, job in enumerate(series):
        watch.observe(observation(*FLEET, job, at=NOW + i))
    assert rows(watch.violations) == want
    assert watch.observations == len(series)


def test_watch_times_a_partial_gang_from_when_it_first_saw_it() -> None:
    """Admitted an hour ago, a worker gone now: tolerated for the grace period from the first sighting, then one
    violation however often it is seen; once whole, the clock starts again."""
    whole = (running("nlp/a", "a100-0", "a100-1"), worker("nlp/a", 0, node_name="a100-0", gpus=4),
             worker("nlp/a", 1, node_name="a100-1", gpus=4))
    partial = whole[:2]
    watch = InvariantWatch(partial_grace_seconds=10)
    seen = [rows(watch.observe(observation(*FLEET, *objects, at=NOW + t))) for t, objects in (
        (0, whole), (1, partial), (9, partial), (12, partial), (13, partial), (14, whole), (15, partial),
        (20, partial))]
    assert seen == [[], [], [], [(PARTIAL_GANG, "job nlp/a")], [(PARTIAL_GANG, "job nlp/a")], [], [], []]
    assert rows(watch.violations) == [(PARTIAL_GANG, "job nlp/a")]
    assert (watch.transient_states, watch.longest_transient_seconds) == (2, 12.0)


@pytest.mark.parametrize(("objects", "want"), [
    pytest.param([running("nlp/a", "a100-0", "a100-1"), worker("nlp/a", 0, node_name="a100-0"),
                  worker("nlp/a", 1, node_name="a100-1")], [], id="a running gang: every pod held"),
    pytest.param([running("nlp/a", "a100-0", generation=2), worker("nlp/a", 0, generation=1)], ["nlp/a-worker-0"],
                 id="an older generation"),
    pytest.param([running("nlp/a", "a100-0"), worker("nlp/a", 1)], ["nlp/a-worker-1"], id="a rank beyond the gang"),
    pytest.param([running("nlp/a", "a100-0", phase="Preempted"), worker("nlp/a", 0),
                  deleting(worker("nlp/a", 1))], ["nlp/a-worker-0"],
                 id="a preempted job's live pod (a terminating one is on its way)"),
    pytest.param([worker("nlp/gone", 0), worker("nlp/gone", 1, phase="Failed")], ["nlp/gone-worker-0"],
                 id="a job that is gone: its live pods"),
])
def test_unheld_pods(objects: list[Any], want: list[str]) -> None:
    assert unheld_pods(observation(*FLEET, *objects)) == want
