"""GPUClass status beyond the numbers: overlapping selectors (Conflict), and tolerations reaching the class's pods."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.actions import EnsureChildren, PatchStatus
from fairshare.control.store import GPU_CLASSES
from fairshare.core.decisions import Admit
from tests.unit.control.builders import NOW, GPUClassBuilder, gpu_class, node, store_of, tenant, training_job, ts
from tests.unit.control.fakecluster import FakeCluster
from tests.unit.control.helpers import of_kind, plan, told


def old() -> GPUClassBuilder:
    return gpu_class("a100").selector(pool="gpu").created(600)


def new() -> GPUClassBuilder:
    return gpu_class("h100").selector(pool="gpu").created(60)


NODES = [node("n0").labels(pool="gpu").gpus(8), node("n1").labels(pool="gpu").gpus(8)]
RULE = "(a node belongs to the oldest GPUClass that selects it, by creationTimestamp, then name); make the " \
       "nodeSelectors disjoint"


def condition(status: bool, reason: str, message: str, since: float = 0.0) -> dict[str, Any]:
    return {"type": "Conflict", "status": "True" if status else "False", "reason": reason, "message": message,
            "lastTransitionTime": ts(since)}


def class_patches(bodies: list[Any], now: float = NOW) -> dict[str, dict[str, Any]]:
    return {a.key: a.status for a in of_kind(plan(bodies, now).actions, PatchStatus) if a.kind == GPU_CLASSES}


def test_overlapping_classes_are_both_told_which_nodes_and_who_holds_them() -> None:
    patches = class_patches([old(), new(), *NODES])
    assert patches["a100"]["conditions"] == [condition(True, "NodesOverlap", "nodes n0, n1 also match GPUClass "
                                                       f"h100's nodeSelector: they stay in this class {RULE}")]
    assert patches["h100"]["conditions"] == [condition(True, "NodesOverlap", "nodes n0, n1 also match GPUClass "
                                                       f"a100's nodeSelector: they belong to GPUClass a100, not this "
                                                       f"class {RULE}")]
    assert (patches["a100"]["capacity"], patches["h100"]["capacity"]) == (16, 0), "no node is counted twice"


def test_a_long_list_of_nodes_is_cut_short() -> None:
    nodes = [node(f"n{i:02d}").labels(pool="gpu").gpus(8) for i in range(12)]
    message = class_patches([old(), new(), *nodes])["a100"]["conditions"][0]["message"]
    assert message.startswith("nodes n00, n01, n02, n03, n04, n05, n06, n07, n08, n09 and 2 more also match")


@pytest.mark.parametrize(("bodies", "want"), [
    pytest.param([old(), gpu_class("h100").selector(pool="other"), *NODES], None, id="disjoint selectors: none"),
    pytest.param([old().conditions(condition(True, "NodesOverlap", "old news", since=300)),
                  gpu_class("h100").selector(pool="other"), *NODES],
                 [condition(False, "NoConflict", "no node matches another GPUClass's nodeSelector")],
                 id="fixed: flips to False"),
])
def test_the_conflict_condition_appears_only_once_there_was_one(bodies: list[Any], want: Any) -> None:
    assert class_patches(bodies)["a100"].get("conditions") == want


def test_conflict_conditions_are_written_once() -> None:
    store = store_of(old(), new(), *NODES)
    FakeCluster(store).apply(plan(store).actions)
    assert "h100" not in class_patches(list(store.all(GPU_CLASSES)) + NODES, NOW + 10)


def test_a_classs_tolerations_reach_the_pods_of_jobs_placed_on_it() -> None:
    tainted = gpu_class("a100").tolerates(dedicated="training")
    job = training_job("nlp/j").gpus(8)
    result = plan([tainted, tenant("nlp"), node("n0").gpu_class("a100").gpus(8), job],
                  scheduler=told(Admit("nlp/j", "a100", 1, ("n0",), 1.0)))
    (ensure,) = of_kind(result.grants, EnsureChildren)
    assert ensure.pods[0]["spec"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "training", "effect": "NoSchedule"}]
