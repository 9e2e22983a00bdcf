"""Every status field the operator writes exists in the CRD's status schema (both copies), with the schema's type.

The statuses are built by the cycle itself (plan_cycle, and the set-aside and feedback builders it calls), over worlds
that make it write each kind of status: admitted, waiting, held back, failed, restarted, stopped for a lost node,
preempted, resized, moved, running, finished, set aside, measured; Tenant and GPUClass status, conflicts included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.control.actions import PatchStatus
from fairshare.control.feedback import feedback_actions
from fairshare.control.isolation import SetAside
from fairshare.control.set_aside import set_aside_actions
from fairshare.control.snapshot import build_world
from fairshare.control.store import GPU_CLASSES, TENANTS, TRAINING_JOBS
from fairshare.core.decisions import Migrate, Preempt, PreemptCause, Resize
from fairshare.feedback.readings import Reading
from tests.unit.control.builders import NOW, gpu_class, node, pod, store_of, tenant, training_job, worker
from tests.unit.control.helpers import plan, told

ROOT = Path(__file__).resolve().parents[3]
CRD_COPIES = {"crds": ROOT / "crds", "chart": ROOT / "charts" / "fairshare-operator" / "crds"}
CRD_FILES = {TRAINING_JOBS: "trainingjobs.fairshare.dev.yaml", TENANTS: "tenants.fairshare.dev.yaml",
             GPU_CLASSES: "gpuclasses.fairshare.dev.yaml"}
JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                           "boolean": (bool,), "object": (dict,), "array": (list,)}


@cache
def status_schema(copy: str, kind: str) -> Mapping[str, Any]:
    crd = yaml.safe_load((CRD_COPIES[copy] / CRD_FILES[kind]).read_text())
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]["properties"]["status"]


def mismatches(value: Any, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    """Each key path of `value` the schema lacks, or whose value is not of the schema's type; null is a merge patch's
    deletion, allowed wherever the field exists."""
    if value is None or schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    kind = schema.get("type")
    if kind in JSON_TYPES and (not isinstance(value, JSON_TYPES[kind]) or (kind != "boolean"
                                                                            and isinstance(value, bool))):
        yield f"{path}: {type(value).__name__} where the schema has {kind}"
        return
    if isinstance(value, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, child in value.items():
            if key in properties:
                yield from mismatches(child, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                yield from mismatches(child, extra, f"{path}.{key}")
            else:
                yield f"{path}.{key}: not in the schema"
    elif isinstance(value, list):
        for item in value:
            yield from mismatches(item, schema.get("items", {}), f"{path}[]")


# --- the worlds ------------------------------------------------------------------------------------------------------

CLUSTER = [gpu_class("a100").price(2.0), gpu_class("l4"), node("a100-000").gpu_class("a100").gpus(8),
           node("a100-001").gpu_class("a100").gpus(8), node("l4-000").gpu_class("l4").gpus(8)]


def running(key: str, *nodes: str, gpu_class_name: str = "a100", workers: int | None = None) -> list[Any]:
    """A job of one 8-GPU worker per node, Running there for an hour and charged until an hour ago."""
    job = (training_job(key).gpus(8).workers(workers or len(nodes), max(4, len(nodes))).phase("Running")
           .allocation(gpu_class_name, *nodes).started(3600).cost(1.0, 1.0, 0.1, accrued_ago=3600))
    return [job, *[worker(key, r, node_name=n, gpus=8) for r, n in enumerate(nodes)]]


def cycle(*items: Any, scheduler: Any = None) -> list[PatchStatus]:
    return [a for a in plan(list(items), scheduler=scheduler).actions if isinstance(a, PatchStatus)]


def admitted_and_waiting() -> list[PatchStatus]:
    return cycle(*CLUSTER, tenant("nlp").guaranteed(a100=8).budget(100.0), tenant("cv"),
                 *[training_job(f"nlp/j{i}").gpus(8).classes("a100") for i in range(4)])


def held_back_and_failed() -> list[PatchStatus]:
    return cycle(*CLUSTER, tenant("nlp"), training_job("stray/no-tenant"), training_job("nlp/too-big").gpus(16),
                 training_job("nlp/invalid").spec(gpusPerWorker=0),
                 training_job("nlp/squatted").gpus(8), pod("nlp/squatted-worker-0").phase("Running"))


def lifecycle() -> list[PatchStatus]:
    """Charged, started, finished, restarted after a failure, stopped for a lost node, drained."""
    succeeded = running("nlp/done", "a100-000")
    succeeded[1] = worker("nlp/done", 0, phase="Succeeded", node_name="a100-000", gpus=8)
    failed = running("nlp/crashed", "a100-001")
    failed[1] = worker("nlp/crashed", 0, phase="Failed", node_name="a100-001", gpus=8).exit_code(3)
    starting = training_job("cv/start").gpus(8).phase("Admitted").allocation("l4", "l4-000")
    return cycle(*CLUSTER, tenant("nlp"), tenant("cv"), *succeeded, *failed, starting,
                 worker("cv/start", 0, node_name="l4-000", gpus=8),
                 *running("cv/lost", "gone-node", gpu_class_name="l4"),
                 training_job("cv/drained").phase("Preempted").allocation("l4", "l4-000"),
                 *running("nlp/charged", "l4-000", gpu_class_name="l4"))


def decided() -> list[PatchStatus]:
    """Preempted, resized and moved by the core."""
    return cycle(*CLUSTER, tenant("nlp"), tenant("cv"), *running("nlp/victim", "a100-000"),
                 *running("nlp/elastic", "a100-001", "l4-000", workers=1), *running("cv/mover", "l4-000",
                                                                                   gpu_class_name="l4"),
                 scheduler=told(Preempt("nlp/victim", "for cv", PreemptCause.FAIR_SHARE),
                                Resize("nlp/elastic", 1, ("a100-001",), 2.0, "shrunk for cv"),
                                Migrate("cv/mover", "a100", 1, ("a100-000",), 2.0, "faster there")))


def conflicts_and_foreign() -> list[PatchStatus]:
    """Two Tenants listing one namespace, a system namespace listed, a class naming no GPUClass, two classes
    selecting one node, a pod of no job holding GPUs in a Tenant's namespace, a tenant gone from under a job."""
    return cycle(*CLUSTER, gpu_class("a100-too").selector(**{"fairshare.dev/gpu-class": "a100"}).created(60),
                 tenant("nlp").namespaces("nlp", "shared", "default").guaranteed(h200=8),
                 tenant("cv").namespaces("cv", "shared").created(10),
                 pod("nlp/notebook").on("a100-000").gpus(2).phase("Running"),
                 *running("orphan/job", "l4-000", gpu_class_name="l4"))


def set_aside() -> list[PatchStatus]:
    world = build_world(store_of(*CLUSTER, tenant("nlp"), training_job("nlp/queued")), NOW)
    entries = [SetAside(TENANTS, "nlp", "Unreadable", "KeyError: 'x'"),
               SetAside(GPU_CLASSES, "a100", "Unreadable", "KeyError: 'x'"),
               SetAside(TRAINING_JOBS, "nlp/queued", "Unreadable", "KeyError: 'x'")]
    actions = set_aside_actions(world, {e.ref: e for e in entries}, NOW)
    return [a for a in actions if isinstance(a, PatchStatus)]


def measured() -> list[PatchStatus]:
    world = build_world(store_of(*CLUSTER, tenant("nlp"), *running("nlp/bert", "a100-000", "a100-001")), NOW)
    reading = Reading("nlp/bert", 1, "a100", 812.5, NOW, step=500, total_steps=1000, checkpoint_age_seconds=30.0,
                      last_checkpoint_step=450)
    actions = feedback_actions(world, {"nlp/bert": reading}, 0.3, 0.0, skip=set())
    return [a for a in actions if isinstance(a, PatchStatus)]


WORLDS: dict[str, tuple[Callable[[], list[PatchStatus]], set[str]]] = {
    # name: (the statuses, the kinds it must write)
    "admitted, waiting, a tenant with a budget": (admitted_and_waiting, {TRAINING_JOBS, TENANTS, GPU_CLASSES}),
    "held back (no tenant, name taken), too big, failed for its spec": (held_back_and_failed, {TRAINING_JOBS}),
    "charged, running, succeeded, restarting, node lost, drained": (lifecycle, {TRAINING_JOBS, TENANTS}),
    "preempted, resized, moved": (decided, {TRAINING_JOBS}),
    "namespace and selector conflicts, foreign pods, an orphan": (conflicts_and_foreign,
                                                                  {TRAINING_JOBS, TENANTS, GPU_CLASSES}),
    "set aside": (set_aside, {TRAINING_JOBS, TENANTS, GPU_CLASSES}),
    "measured throughput, progress and checkpoint": (measured, {TRAINING_JOBS}),
}


@pytest.mark.parametrize("copy", sorted(CRD_COPIES))
@pytest.mark.parametrize("world", sorted(WORLDS))
def test_every_status_field_written_is_in_the_crd_schema(world: str, copy: str) -> None:
    build, kinds = WORLDS[world]
    patches = build()
    assert {p.kind for p in patches} >= kinds, "the world writes the statuses it is meant to"
    wrong = [f"{p.kind} {p.key}: {m}" for p in patches
             for m in mismatches(p.status, status_schema(copy, p.kind), "status")]
    assert wrong == []


@pytest.mark.parametrize(("kind", "status", "want"), [
    pytest.param(TRAINING_JOBS, {"phase": "Queued", "queue": {"positon": 3}},
                 ["status.queue.positon: not in the schema"], id="a misspelt nested field"),
    pytest.param(TENANTS, {"allocated": {"a100": "8"}}, ["status.allocated.a100: str where the schema has integer"],
                 id="a map value of the wrong type"),
    pytest.param(GPU_CLASSES, {"idle": True}, ["status.idle: bool where the schema has integer"],
                 id="a boolean is no integer"),
    pytest.param(TRAINING_JOBS, {"queue": None, "allocation": {"nodes": ["n0"]}}, [],
                 id="null deletes; a list of the schema's items"),
])
def test_the_schema_walk_reports_what_the_crd_lacks(kind: str, status: dict[str, Any], want: list[str]) -> None:
    assert list(mismatches(status, status_schema("crds", kind), "status")) == want
