"""Store: the newest body of each object wins, deletes remove it, keys are namespace/name or name."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from fairshare.control.store import KINDS, NODES, PODS, TRAINING_JOBS, Store, json_copy, object_key
from tests.unit.control.builders import node, pod, training_job


def _phase(store: Store, key: str) -> Any:
    body = store.get(TRAINING_JOBS, key)
    return body["status"].get("phase") if body else None


@pytest.mark.parametrize(("puts", "want_changed", "want_phase"), [
    pytest.param([("5", "Queued")], [True], "Queued", id="first body goes in"),
    pytest.param([("5", "Queued"), ("6", "Admitted")], [True, True], "Admitted", id="newer resourceVersion wins"),
    pytest.param([("6", "Admitted"), ("5", "Queued")], [True, False], "Admitted", id="older watch event is ignored"),
    pytest.param([("9", "Admitted"), ("10", "Running")], [True, True], "Running",
                 id="versions compare as numbers, not strings"),
    pytest.param([("6", "Admitted"), (None, "Queued")], [True, True], "Queued",
                 id="a body without resourceVersion always goes in"),
    pytest.param([("6", "Admitted"), ("garbage", "Queued")], [True, True], "Queued",
                 id="an unparsable resourceVersion counts as unknown"),
])
def test_put_keeps_the_newest_body(puts: list[tuple[str | None, str]], want_changed: list[bool],
                                   want_phase: str) -> None:
    store = Store()
    changed = []
    for rv, phase in puts:
        body = training_job("nlp/bert").phase(phase).body()
        if rv is None:
            del body["metadata"]["resourceVersion"]
        else:
            body["metadata"]["resourceVersion"] = rv
        changed.append(store.put(TRAINING_JOBS, body))
    assert (changed, _phase(store, "nlp/bert")) == (want_changed, want_phase)


def test_put_copies_the_body() -> None:
    store = Store()
    body = training_job("nlp/bert").phase("Queued").body()
    store.put(TRAINING_JOBS, body)
    body["status"]["phase"] = "Failed"
    assert _phase(store, "nlp/bert") == "Queued"


def _containers(value: Any) -> list[Any]:
    """Every dict and list inside a document, itself included."""
    if isinstance(value, dict):
        return [value, *(c for v in value.values() for c in _containers(v))]
    if isinstance(value, list):
        return [value, *(c for v in value for c in _containers(v))]
    return []


@pytest.mark.parametrize("document", [
    pytest.param(training_job("nlp/bert").phase("Running").cost(credits=1.5, accrued_ago=30).body(), id="job"),
    pytest.param({"a": [1, 2.5, None, True, {"b": ["x", {"c": []}]}], "d": {}}, id="nested"),
    pytest.param({"shared": (shared := {"x": [1]}), "again": shared}, id="the same dict twice"),
    pytest.param({"when": datetime.datetime(2026, 1, 1), "pair": (1, [2])}, id="not JSON: deep-copied"),
])
def test_json_copy_equals_deepcopy_and_shares_nothing(document: dict[str, Any]) -> None:
    copied = json_copy(document)
    assert copied == copy.deepcopy(document)
    originals = {id(c) for c in _containers(document)}
    assert not [c for c in _containers(copied) if id(c) in originals]


def test_delete_removes_and_reports_whether_it_held_the_object() -> None:
    store = Store()
    store.put(PODS, pod("nlp/bert-worker-0").body())
    first = store.delete(PODS, pod("nlp/bert-worker-0").body())
    again = store.delete(PODS, pod("nlp/bert-worker-0").body())
    assert (first, again, store.get(PODS, "nlp/bert-worker-0"), len(store)) == (True, False, None, 0)


@pytest.mark.parametrize(("body", "want"), [
    pytest.param(pod("nlp/bert-worker-0").body(), "nlp/bert-worker-0", id="namespaced: namespace/name"),
    pytest.param(node("a100-000").body(), "a100-000", id="cluster-scoped: name"),
])
def test_object_key(body: dict[str, Any], want: str) -> None:
    assert object_key(body) == want


def test_kinds_are_kept_apart_and_counted() -> None:
    store = Store()
    store.put(NODES, node("a").body())
    store.put(NODES, node("b").body())
    store.put(PODS, pod("ns/a").body())
    assert ({k: sorted(store.objects[k]) for k in KINDS if store.objects[k]}, len(store)) == (
        {NODES: ["a", "b"], PODS: ["ns/a"]}, 3)


def test_all_is_a_snapshot_that_survives_deletes_while_iterating() -> None:
    store = Store()
    for name in ("a", "b", "c"):
        store.put(NODES, node(name).body())
    seen = []
    for body in store.all(NODES):
        seen.append(body["metadata"]["name"])
        store.delete(NODES, body)
    assert (seen, len(store)) == (["a", "b", "c"], 0)
