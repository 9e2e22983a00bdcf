"""Tenant conditions: a namespace an older Tenant holds (Conflict), and classes that do not exist (UnknownGPUClass)."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import PatchStatus
from fairshare.control.store import TENANTS
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, ts
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import of_kind, plan

FLEET = [gpu_class("a100"), node("a100-0").gpu_class("a100").gpus(8)]

HELD = ("namespace shared is held by Tenant old (the oldest Tenant that lists a namespace owns it); it is ignored "
        "for this Tenant, so remove it from spec.namespaces or from the other Tenant")
UNKNOWN = ("spec.guaranteed[h200], spec.borrowingLimit[b200] name no GPUClass; they count for nothing until such a "
           "class is created (check the spelling against `kubectl get gpuclasses`)")


def condition(type_: str, status: bool, reason: str, message: str, since: float = 0.0) -> dict[str, Any]:
    return {"type": type_, "status": "True" if status else "False", "reason": reason, "message": message,
            "lastTransitionTime": ts(since)}


def conditions_written(bodies: list[Any], name: str) -> list[dict[str, Any]] | None:
    """The conditions the cycle writes on Tenant `name`; None when it writes none."""
    patches = [a for a in of_kind(plan([*FLEET, *bodies]).actions, PatchStatus) if (a.kind, a.key) == (TENANTS, name)]
    return patches[0].status.get("conditions") if patches else None


@pytest.mark.parametrize(("bodies", "name", "want"), [
    pytest.param([tenant("old").namespaces("shared").created(600), tenant("new").namespaces("new", "shared")
                  .created(60)], "new", [condition("Conflict", True, "NamespaceHeld", HELD)],
                 id="the later tenant is told which namespace the older one holds"),
    pytest.param([tenant("old").namespaces("shared").created(600), tenant("new").namespaces("new", "shared")
                  .created(60)], "old", None, id="the older tenant gets no condition"),
    pytest.param([tenant("nlp").guaranteed(a100=8)], "nlp", None, id="known classes: no condition"),
    pytest.param([tenant("nlp").guaranteed(a100=8, h200=4).borrowing(b200=0)], "nlp",
                 [condition("UnknownGPUClass", True, "NoSuchGPUClass", UNKNOWN)],
                 id="guarantee and borrowing limit keys naming no class are listed"),
    pytest.param([tenant("nlp").guaranteed(h200=4).conditions(condition("UnknownGPUClass", True, "NoSuchGPUClass",
                                                                      "spec.guaranteed[h200] names no GPUClass",
                                                                      since=300))],
                 "nlp", [condition("UnknownGPUClass", True, "NoSuchGPUClass",
                                   "spec.guaranteed[h200] names no GPUClass; it counts for nothing until such a class "
                                   "is created (check the spelling against `kubectl get gpuclasses`)", since=300)],
                 id="a reworded message keeps the transition time"),
    pytest.param([tenant("nlp").guaranteed(a100=8).conditions(
        condition("UnknownGPUClass", True, "NoSuchGPUClass", UNKNOWN, since=300),
        condition("Conflict", True, "NamespaceHeld", HELD, since=300))], "nlp",
        [condition("Conflict", False, "NoConflict", "every namespace in spec.namespaces belongs to this Tenant"),
         condition("UnknownGPUClass", False, "AllClassesKnown",
                   "every class in spec.guaranteed and spec.borrowingLimit exists")],
        id="fixed problems flip to False"),
])
def test_tenant_conditions(bodies: list[Any], name: str, want: list[dict[str, Any]] | None) -> None:
    assert conditions_written(bodies, name) == want


SYSTEM = ("spec.namespaces lists the system namespace default, which no Tenant owns (kube-*, and the operator's "
          "protected namespaces: default); the operator ignores it and runs no job there, so remove it from "
          "spec.namespaces")


@pytest.mark.parametrize(("bodies", "want"), [
    pytest.param([tenant("nlp").namespaces("nlp", "default")], [condition("SystemNamespace", True, "SystemNamespace",
                                                                         SYSTEM)], id="a protected namespace"),
    pytest.param([tenant("nlp").namespaces("nlp").conditions(condition("SystemNamespace", True, "SystemNamespace",
                                                                       SYSTEM, since=300))],
                 [condition("SystemNamespace", False, "NoSystemNamespace",
                            "spec.namespaces lists no system namespace")],
                 id="removed: flips to False"),
])
def test_a_tenant_listing_a_system_namespace_is_told(bodies: list[Any], want: list[dict[str, Any]]) -> None:
    assert conditions_written(bodies, "nlp") == want


def test_tenant_conditions_are_written_once() -> None:
    store = store_of(*FLEET, tenant("old").namespaces("shared").created(600),
                     tenant("new").namespaces("shared").guaranteed(h200=1).created(60))
    first = plan(store)
    assert {a.key for a in of_kind(first.actions, PatchStatus) if a.kind == TENANTS} == {"old", "new"}
    FakeCluster(store).apply(first.actions)
    assert [a for a in plan(store, NOW + 10).actions if isinstance(a, PatchStatus) and a.kind == TENANTS] == []
