"""Fuzzing a whole cycle with hostile objects of every watched kind: each is set aside alone, the others go on.

A store holds a fixed good cluster: two tenants within their guarantees, whose jobs fill the a100 class exactly, and
a third tenant (mallory) with jobs of its own. Beside it go one to four hostile bodies: a TrainingJob (in mallory's
namespace or in one no Tenant owns), a Tenant, a GPUClass, a Node or a Pod, each built valid and then given values
from the corners of the Kubernetes quantity grammar and of JSON numbers, strings where numbers go, missing and extra
fields, and malformed conditions and labels. The properties:
- build_world and plan_cycle return (no exception leaves the cycle);
- the good tenants' jobs are admitted exactly as without the hostile objects (same Admit decisions: class and
  nodes, and the same status writes and children for them);
- a hostile object the operator cannot use is reported: a custom resource its parser refuses by a Failed
  (InvalidSpec) job or a Ready False condition and an Event on a Tenant or GPUClass; a Node or Pod whose GPUs cannot
  be read by an entry of the cycle's set-aside list (the loop logs it and counts it in fairshare_objects_set_aside).
HYPOTHESIS_PROFILE=thorough runs ten times the examples (tests/unit/core/helpers.py).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairshare.api import SpecError, parse_gpu_class, parse_tenant, parse_training_job
from fairshare.control.actions import EnsureChildren, PatchStatus, RecordEvent
from fairshare.control.isolation import SCHEDULING_ERROR, UNREADABLE, ref
from fairshare.control.plan import CyclePlan
from fairshare.control.store import NODES, PODS, Store
from fairshare.core.decisions import Admit
from tests.unit.control.builders import (
    KIND_OF,
    gpu_class,
    node,
    pod,
    store_of,
    tenant,
    training_job,
)
from tests.unit.control.helpers import plan
from tests.unit.core.helpers import examples

Body = dict[str, Any]

# --- the good cluster ------------------------------------------------------------------------------------------------

GOOD_JOBS = ("alpha/a1", "beta/b1", "beta/b2")


def good_cluster() -> list[Body]:
    """a100: 2 x 8 GPUs, all of it guaranteed to alpha and beta, whose pending jobs ask for exactly that; l4: 2 x 4
    GPUs that only mallory's jobs (and hostile ones) may use; a node and a job that only a hostile GPUClass and a
    hostile Tenant bring into play."""
    fleet = [node(f"{c}-{i}").gpu_class(c).gpus(n).allocatable(cpu="64", memory="512Gi").body()
             for c, n in (("a100", 8), ("l4", 4)) for i in range(2)]
    return [gpu_class("a100").price(2.0).body(), gpu_class("l4").price(0.5).body(), *fleet,
            tenant("alpha").guaranteed(a100=8).created(86400).body(),
            tenant("beta").guaranteed(a100=8).created(86400).body(),
            tenant("mallory").created(86400).status(decayedUsageGPUHours=3.0).body(),
            training_job("alpha/a1").classes("a100").gpus(8).body(),
            training_job("beta/b1").classes("a100").gpus(4).body(),
            training_job("beta/b2").classes("a100").gpus(4).body(),
            training_job("mallory/m1").gpus(2).workers(1, 4).throughput("l4", 1, 30.0).body(),
            # Used only once a hostile object names them: a node of the hostile class, a job of the hostile tenant.
            node("spare-0").gpu_class("hostile-gc").gpus(4).body(),
            training_job("hostile-ns/probe").workers(1, 3).throughput("hostile-gc", 1, 20.0).body(),
            training_job("mallory/m2").classes("l4").phase("Running").allocation("l4", "l4-1").started(600)
            .cost(1.0, 1.0, 0.1, 60).throughput("l4", 1, 50.0).body(),
            pod("mallory/m2-worker-0").job("m2").generation(1).rank(0).phase("Running").on("l4-1").gpus(1).body()]


# --- hostile values --------------------------------------------------------------------------------------------------

QUANTITY_CORNERS = ("1Ei", "1e308", "0.0000001", "-1", "1.5", "99999999999999999999", ".5e-3", "1E", "1e999999999",
                    "500m", "-0", "+8", "0x10", " 8", "8 ", "1_000", "inf", "NaN", "1ki", "1e", "", "8" * 70)
NUMBER_CORNERS = (5e-324, 1e308, -1e308, 1e-300, math.inf, -math.inf, math.nan, 0, -1, 2**31, 2**63, 10**30, 0.5,
                  -0.0)
STRING_CORNERS = ("eight", "8", "", "true", "null", "ä100", "a" * 300, "\x00", "../../etc/passwd", "Running", "l4")
SHAPE_CORNERS: tuple[Any, ...] = (None, True, [], {}, [1], {"x": 1}, [None], [{"type": 5}],
                                  [{"type": "Ready", "status": "Maybe"}], ["x"], {"fairshare.dev/job": ["x"]})
HOSTILE = st.sampled_from(QUANTITY_CORNERS + NUMBER_CORNERS + STRING_CORNERS + SHAPE_CORNERS)


def gpu_reading(value: Any) -> int | None:
    """What a value in a GPU count field reads as: a count the operator uses (absent: 0), or None when it is no whole
    number of GPUs from 0 to 4096 (the node, or pod, is set aside). Written for the corners above only."""
    if value is None:
        return 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if math.isfinite(value) and value == int(value) and 0 <= value <= 4096 else None
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value) and (int(value) == 0 or value[0] != "-"):
        return int(value) if int(value) <= 4096 else None
    return None


# --- hostile objects: a valid template, then mutations at named paths ------------------------------------------------

Path = tuple[Any, ...]

TEMPLATES: dict[str, tuple[Callable[[str], Body], tuple[Path, ...]]] = {}


def _job(namespace: str) -> Body:
    """A pending elastic job with requests, a deadline, measured throughput and some cost; in mallory's namespace
    it competes with mallory's own jobs, in `orphan` no Tenant owns it."""
    body = training_job(f"{namespace}/hostile").gpus(1).workers(1, 3).resources(cpu="1", memory="8Gi").body()
    body["spec"]["runPolicy"] = {"backoffLimit": 1, "activeDeadlineSeconds": 3600}
    body["status"] = {"phase": "Queued", "conditions": [], "queue": {"position": 1, "reason": "waiting"},
                      "throughput": [{"gpuClass": "l4", "workers": 1, "samplesPerSecond": 10.0,
                                      "measuredAt": "2025-01-01T00:00:00Z"}],
                      "cost": {"credits": 1.0, "gpuHours": 1.0, "energyKWh": 0.1}}
    body["metadata"]["labels"] = {"team": "x"}
    return body


def _running_job(namespace: str) -> Body:
    """The same job running on one l4 node for an hour (its worker pod is not there: it counts as held anyway)."""
    body = _job(namespace)
    body["status"].update(phase="Running", queue=None, startTime="2025-06-15T14:00:00Z", allocation={
        "gpuClass": "l4", "workers": 1, "gpus": 1, "nodes": ["l4-0"], "admittedAt": "2025-06-15T14:00:00Z",
        "generation": 1, "pricePerGPUHour": 0.5})
    return body


JOB_PATHS: tuple[Path, ...] = (
    ("spec", "resources", "memory"), ("spec", "resources", "cpu"), ("spec", "resources"), ("spec", "gpusPerWorker"),
    ("spec", "workers", "min"), ("spec", "workers", "max"), ("spec", "workers"), ("spec", "priority"),
    ("spec", "maxPricePerGPUHour"), ("spec", "gpuClasses"), ("spec", "preemptible"), ("spec", "image"),
    ("spec", "runPolicy", "backoffLimit"), ("spec", "runPolicy", "activeDeadlineSeconds"), ("spec", "x-extra"),
    ("status", "phase"), ("status", "conditions"), ("status", "queue"), ("status", "queue", "position"),
    ("status", "throughput", 0, "samplesPerSecond"), ("status", "throughput", 0, "workers"),
    ("status", "cost", "credits"), ("status", "cost", "gpuHours"), ("status", "restarts"), ("status", "allocation"),
    ("metadata", "labels"), ("metadata", "creationTimestamp"), ("metadata", "resourceVersion"), ("status",),
)


def _tenant(_: str) -> Body:
    return tenant("hostile-t").namespaces("hostile-ns").weight(1.0).created(60).budget(100.0).status(
        decayedUsageGPUHours=5.0, spendThisPeriod=1.0, fairShare={"l4": 1.0}, conditions=[]).body()


TENANT_PATHS: tuple[Path, ...] = (
    ("spec", "weight"), ("spec", "guaranteed"), ("spec", "guaranteed", "l4"), ("spec", "borrowingLimit"),
    ("spec", "borrowingLimit", "l4"), ("spec", "budget", "creditsPerPeriod"), ("spec", "budget", "periodHours"),
    ("spec", "budget"), ("spec", "namespaces"), ("spec", "x-extra"), ("status", "decayedUsageGPUHours"),
    ("status", "spendThisPeriod"), ("status", "fairShare"), ("status", "fairShare", "l4"), ("status", "conditions"),
    ("status", "usageUpdatedAt"), ("metadata", "creationTimestamp"), ("metadata", "labels"), ("spec",),
)


def _gpu_class(_: str) -> Body:
    return gpu_class("hostile-gc").selector(**{"fairshare.dev/gpu-class": "hostile-gc"}).speed(1.0).status(
        currentPricePerGPUHour=1.0, capacity=4, conditions=[]).body()


CLASS_PATHS: tuple[Path, ...] = (
    ("spec", "pricePerGPUHour"), ("spec", "powerWatts"), ("spec", "relativeSpeed"), ("spec", "nodeSelector"),
    ("spec", "x-extra"), ("status", "currentPricePerGPUHour"), ("status", "capacity"), ("status", "conditions"),
    ("metadata", "labels"), ("spec",),
)


def _node(_: str) -> Body:
    return node("hostile-node").gpu_class("l4").gpus(4).allocatable(cpu="64", memory="512Gi").body()


NODE_PATHS: tuple[Path, ...] = (
    ("status", "allocatable", "nvidia.com/gpu"), ("status", "allocatable", "memory"), ("status", "allocatable", "cpu"),
    ("status", "allocatable"), ("status", "conditions"), ("metadata", "labels"), ("spec", "unschedulable"),
    ("spec",), ("status",),
)


def _pod(namespace: str) -> Body:
    return pod(f"{namespace}/hostile-pod").on("l4-0").phase("Running").gpus(1).job("a1").body()


POD_PATHS: tuple[Path, ...] = (
    ("spec", "containers", 0, "resources", "limits", "nvidia.com/gpu"),
    ("spec", "containers", 0, "resources", "requests", "nvidia.com/gpu"),
    ("spec", "containers", 0, "resources"), ("spec", "containers"), ("spec", "initContainers"),
    ("status", "phase"), ("metadata", "labels"), ("spec",), ("status",),
)

TEMPLATES.update({"TrainingJob": (_job, JOB_PATHS), "RunningJob": (_running_job, JOB_PATHS),
                  "Tenant": (_tenant, TENANT_PATHS),
                  "GPUClass": (_gpu_class, CLASS_PATHS), "Node": (_node, NODE_PATHS), "Pod": (_pod, POD_PATHS)})


def _set(body: Body, path: Path, value: Any, how: str) -> None:
    parent: Any = body
    for step in path[:-1]:
        if isinstance(parent, dict):
            parent = parent.setdefault(step, {})
        elif isinstance(parent, list) and isinstance(step, int) and step < len(parent):
            parent = parent[step]
        else:
            return
    leaf = path[-1]
    if not isinstance(parent, dict | list) or (isinstance(parent, list) and not (isinstance(leaf, int)
                                                                                 and leaf < len(parent))):
        return
    if how == "drop" and isinstance(parent, dict):
        parent.pop(leaf, None)
    elif how == "wrap" and isinstance(parent, dict) and leaf in parent:
        parent[leaf] = [parent[leaf]]
    else:
        parent[leaf] = value


@st.composite
def hostile_object(draw: st.DrawFn, index: int) -> tuple[str, Body]:
    """One hostile body: a valid template of some kind with one to three values replaced, dropped or wrapped."""
    kind = draw(st.sampled_from(sorted(TEMPLATES)))
    make, paths = TEMPLATES[kind]
    body = make(draw(st.sampled_from(["mallory", "orphan"])))
    body["metadata"]["name"] += f"-{index}"
    if kind == "Pod":
        body["metadata"]["uid"] = f"uid-pod-{index}"
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["replace"] * 4 + ["drop", "wrap"]))
        _set(body, draw(st.sampled_from(paths)), draw(HOSTILE), how)
    return body["kind"], body


@st.composite
def hostile_objects(draw: st.DrawFn) -> list[tuple[str, Body]]:
    return [draw(hostile_object(i)) for i in range(draw(st.integers(1, 4)))]


# --- the properties --------------------------------------------------------------------------------------------------

def good_admissions(result: CyclePlan) -> dict[str, list[tuple[Any, ...]]]:
    """The good jobs' admissions: the core's decisions, the status writes and the children the plan creates."""
    return {
        "decided": sorted((d.job_key, d.gpu_class, d.nodes, d.workers) for d in result.result.decisions
                          if isinstance(d, Admit) and d.job_key in GOOD_JOBS),
        "written": sorted(((a.key, a.status.get("phase"), (a.status.get("allocation") or {}).get("nodes"))
                           for a in result.actions if isinstance(a, PatchStatus) and a.key in GOOD_JOBS), key=repr),
        "children": sorted((a.job_key, tuple(p["metadata"]["name"] for p in a.pods)) for a in result.grants
                           if isinstance(a, EnsureChildren) and a.job_key in GOOD_JOBS),
    }


BASELINE = good_admissions(plan(store_of(*good_cluster())))
PARSERS = {"TrainingJob": parse_training_job, "Tenant": parse_tenant, "GPUClass": parse_gpu_class}


def test_the_good_cluster_admits_every_good_job() -> None:
    assert [d[0] for d in BASELINE["decided"]] == sorted(GOOD_JOBS)
    assert [c[0] for c in BASELINE["children"]] == sorted(GOOD_JOBS)


def _refused(kind: str, body: Body) -> bool:
    try:
        PARSERS[kind](copy.deepcopy(body))
    except SpecError:
        return True
    return False


def assert_reported(kind: str, body: Body, result: CyclePlan) -> None:
    """A hostile object the operator cannot use is reported where it can be."""
    key = f"{body['metadata']['namespace']}/{body['metadata']['name']}" if body["metadata"].get("namespace") \
        else body["metadata"]["name"]
    store_kind = KIND_OF[kind]
    if kind in PARSERS:
        if not _refused(kind, body):
            return
        status = body.get("status")
        if kind == "TrainingJob" and isinstance(status, dict) and status.get("phase") in ("Failed", "Succeeded"):
            return  # already terminal: nothing more to write, nor to count
        assert ref(store_kind, key) in result.set_aside, (kind, key, sorted(result.set_aside))
        if kind == "TrainingJob":
            assert any(isinstance(a, PatchStatus) and a.key == key and a.status.get("phase") == "Failed"
                       for a in result.actions), key
            assert any(isinstance(a, RecordEvent) and a.job_key == key and a.reason == "InvalidSpec"
                       for a in result.actions), key
        else:
            patched = [a for a in result.actions if isinstance(a, PatchStatus) and (a.kind, a.key) == (store_kind, key)]
            ready = [c for a in patched for c in a.status.get("conditions") or [] if c.get("type") == "Ready"]
            assert [(c["status"], c["reason"]) for c in ready] == [("False", "InvalidSpec")], (key, patched)
            assert any(isinstance(a, RecordEvent) and (a.kind, a.job_key) == (store_kind, key)
                       for a in result.actions), key
        return
    gpus = _gpu_value(kind, body)
    if gpus is not _ABSENT and gpu_reading(gpus) is None:
        assert ref(store_kind, key) in result.set_aside, (kind, key, gpus, sorted(result.set_aside))


_ABSENT = object()


def _gpu_value(kind: str, body: Body) -> Any:
    """The GPU count a hostile Node or Pod reports, when its template still reads as one the cycle checks (a node
    still labelled into a class, a pod still bound and running), or _ABSENT."""
    try:
        if kind == "Node":
            if body["metadata"]["labels"] != {"fairshare.dev/gpu-class": "l4"}:
                return _ABSENT
            allocatable = body["status"]["allocatable"]
            return allocatable.get("nvidia.com/gpu", _ABSENT)
        if body["status"]["phase"] != "Running" or body["spec"]["nodeName"] != "l4-0":
            return _ABSENT
        resources = body["spec"]["containers"][0]["resources"]
        values = [resources[part]["nvidia.com/gpu"] for part in ("limits", "requests")]
        return next((v for v in values if gpu_reading(v) is None), values[0])
    except (KeyError, TypeError, IndexError, AttributeError):
        return _ABSENT


def with_hostile(objects: list[tuple[str, Body]]) -> Store:
    store = store_of(*good_cluster())
    for _, body in objects:
        store.put(KIND_OF[body["kind"]], copy.deepcopy(body))
    return store


def assert_translated(result: CyclePlan) -> None:
    """Set aside only for what is wrong with the object itself: a custom resource the models accept is translated
    and planned (never Unreadable), and the core never raises (SchedulingError is the last resort for a bug, and
    none is left that these inputs reach)."""
    wrong = [e for e in result.set_aside.values()
             if e.reason == SCHEDULING_ERROR or (e.reason == UNREADABLE and e.kind not in (NODES, PODS))]
    assert not wrong, [(e.ref, e.message, e.trace) for e in wrong]


@examples(150)
@given(hostile_objects())
def test_hostile_objects_are_set_aside_alone_and_reported(objects: list[tuple[str, Body]]) -> None:
    result = plan(with_hostile(objects))
    assert good_admissions(result) == BASELINE
    for kind, body in objects:
        assert_reported(kind, body, result)
    assert_translated(result)


# Every number and quantity field the operator hands on to the core or compares, and the values that are valid for
# the API (or nearly) but extreme: they are what a parser lets through and a division then meets.
NUMERIC_FIELDS: tuple[tuple[str, Path], ...] = (
    ("TrainingJob", ("spec", "resources", "memory")), ("TrainingJob", ("spec", "resources", "cpu")),
    ("TrainingJob", ("spec", "maxPricePerGPUHour")), ("TrainingJob", ("spec", "priority")),
    ("TrainingJob", ("status", "throughput", 0, "samplesPerSecond")), ("TrainingJob", ("status", "cost", "gpuHours")),
    ("RunningJob", ("status", "throughput", 0, "samplesPerSecond")), ("RunningJob", ("status", "cost", "gpuHours")),
    ("RunningJob", ("status", "allocation", "pricePerGPUHour")), ("RunningJob", ("spec", "maxPricePerGPUHour")),
    ("Tenant", ("spec", "weight")), ("Tenant", ("spec", "guaranteed", "hostile-gc")),
    ("Tenant", ("spec", "borrowingLimit", "hostile-gc")), ("Tenant", ("spec", "budget", "creditsPerPeriod")),
    ("Tenant", ("status", "decayedUsageGPUHours")), ("Tenant", ("status", "spendThisPeriod")),
    ("Tenant", ("status", "fairShare", "hostile-gc")),
    ("GPUClass", ("spec", "pricePerGPUHour")), ("GPUClass", ("spec", "powerWatts")),
    ("GPUClass", ("spec", "relativeSpeed")), ("GPUClass", ("status", "currentPricePerGPUHour")),
    ("Node", ("status", "allocatable", "nvidia.com/gpu")), ("Node", ("status", "allocatable", "memory")),
    ("Pod", ("spec", "containers", 0, "resources", "limits", "nvidia.com/gpu")),
    ("Pod", ("spec", "containers", 0, "resources", "requests", "nvidia.com/gpu")),
)
EXTREMES: tuple[Any, ...] = (5e-324, 1e-300, 1e-7, 0, 1000, 1e12, 1e308, "1Ei", "0.0000001", "99999999999999999999",
                             ".5e-3", "1.5", "-1")


@pytest.mark.parametrize("value", EXTREMES, ids=repr)
@pytest.mark.parametrize(("kind", "path"), NUMERIC_FIELDS, ids=lambda v: v if isinstance(v, str) else ".".join(
    str(p) for p in v))
def test_every_extreme_value_in_every_numeric_field(kind: str, path: Path, value: Any) -> None:
    """One hostile object at a time, with the hostile tenant's and class's job and node in play."""
    make, _ = TEMPLATES[kind]
    body = make("hostile-ns" if kind in ("TrainingJob", "RunningJob") else "mallory")
    if kind == "Tenant":
        body["spec"]["namespaces"] = ["hostile-ns"]
    _set(body, path, value, "replace")
    companions = [] if kind in ("Tenant", "GPUClass") else [("Tenant", _tenant("")), ("GPUClass", _gpu_class(""))]
    objects = [*companions, (kind, body)]
    result = plan(with_hostile(objects))
    assert good_admissions(result) == BASELINE
    assert_reported(body["kind"], body, result)
    assert_translated(result)
