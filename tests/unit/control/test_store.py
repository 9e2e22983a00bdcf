"""Store: the newest body of each object wins, deletes remove it, keys are namespace/name or name."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from fairshare.control.store import (
    KINDS,
    NODES,
    PODS,
    TOMBSTONE_SECONDS,
    TRAINING_JOBS,
    Store,
    json_copy,
    object_key,
    stored_copy,
)
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


MANAGED_FIELDS = [{"manager": "fairshare-operator", "operation": "Update", "subresource": "status",
                   "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:phase": {}}}}]


def _with_managed_fields(body: dict[str, Any]) -> dict[str, Any]:
    body["metadata"]["managedFields"] = copy.deepcopy(MANAGED_FIELDS)
    return body


@pytest.mark.parametrize(("kind", "body"), [
    pytest.param(TRAINING_JOBS, _with_managed_fields(training_job("nlp/bert").phase("Running").body()), id="job"),
    pytest.param(PODS, _with_managed_fields(pod("nlp/bert-worker-0").body()), id="pod"),
    pytest.param(NODES, _with_managed_fields(node("gpu-1").body()), id="node"),
])
def test_the_store_keeps_everything_but_managed_fields(kind: str, body: dict[str, Any]) -> None:
    store = Store()
    store.put(kind, body)
    held = store.get(kind, object_key(body))
    assert held is not None and "managedFields" not in held["metadata"]
    assert held == {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "managedFields"}}
    assert body["metadata"]["managedFields"] == MANAGED_FIELDS  # the caller's body is left as it was


@pytest.mark.parametrize("body", [
    pytest.param({"kind": "Pod", "spec": {"x": [1]}}, id="no metadata"),
    pytest.param({"metadata": None, "status": {}}, id="metadata null"),
    pytest.param({"metadata": ["not", "a", "map"]}, id="metadata not a map"),
])
def test_stored_copy_copies_bodies_whose_metadata_is_not_a_map_as_they_are(body: dict[str, Any]) -> None:
    copied = stored_copy(body)
    assert copied == body
    assert not [c for c in _containers(copied) if id(c) in {id(o) for o in _containers(body)}]


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


# --- ghosts: a deleted object is not brought back by a body read before its deletion -----------------------------

def _job(uid: str, rv: str, phase: str = "Queued") -> dict[str, Any]:
    body = training_job("nlp/j").phase(phase).body()
    body["metadata"].update(uid=uid, resourceVersion=rv)
    return body


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("late", "back"), [
    pytest.param(_job("u1", "5"), False, id="a resync's LIST taken before the deletion: the job stays gone"),
    pytest.param(_job("u1", "9"), False, id="the deleted version itself: gone"),
    pytest.param(_job("u1", "8", "Running"), False,
                 id="a write's response read after the deletion (older than it): gone"),
    pytest.param(_job("u2", "3"), True, id="created again under the same name (another UID): back"),
    pytest.param(_job("u1", "12"), True, id="a newer version than the deletion: back"),
    pytest.param(_job("u1", "abc"), True, id="a version that is not a number: back, as before tombstones"),
])
def test_a_deleted_job_is_not_brought_back_by_an_older_body(late: dict[str, Any], back: bool) -> None:
    store = Store()
    store.put(TRAINING_JOBS, _job("u1", "7"))
    store.delete(TRAINING_JOBS, _job("u1", "9"))  # the DELETED event carries the deletion's version
    assert store.put(TRAINING_JOBS, late) is back
    assert (store.get(TRAINING_JOBS, "nlp/j") is not None) is back


def test_a_tombstone_expires() -> None:
    clock = Clock()
    store = Store(clock=clock)
    store.delete(TRAINING_JOBS, _job("u1", "9"))
    clock.now += TOMBSTONE_SECONDS
    assert store.put(TRAINING_JOBS, _job("u1", "5")) is True
    assert store.tombstones == {}


def test_tombstones_are_bounded_in_time_and_number(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    store = Store(clock=clock)

    def delete(name: str) -> None:
        body = _job(f"uid-{name}", "9")
        body["metadata"]["name"] = name
        store.delete(TRAINING_JOBS, body)

    for name in ("j0", "j1", "j2"):
        delete(name)
        clock.now += TOMBSTONE_SECONDS / 2
    assert [key for _, key in store.tombstones] == ["nlp/j1", "nlp/j2"]  # j0's expired as j2's was recorded
    monkeypatch.setattr("fairshare.control.store.MAX_TOMBSTONES", 2)
    clock.now -= TOMBSTONE_SECONDS / 2  # j1's and j2's are in time
    delete("j3")
    assert [key for _, key in store.tombstones] == ["nlp/j2", "nlp/j3"]  # past the cap, the oldest go first


@pytest.mark.parametrize(("stored_rv", "list_rv", "stays"), [
    pytest.param("12", "10", True, id="created after the LIST's snapshot, seen by the watch: stays"),
    pytest.param("10", "10", False, id="no newer than the LIST, which lacks it: deleted before it, removed"),
    pytest.param("7", "10", False, id="older than the LIST: removed"),
    pytest.param("7", None, False, id="a LIST without a version: removed, as before"),
    pytest.param("7", "not-a-number", False, id="a LIST version that is not a number: removed, as before"),
])
def test_resync_removes_only_what_its_list_lacks_and_is_no_newer(stored_rv: str, list_rv: str | None,
                                                                 stays: bool) -> None:
    store = Store()
    store.put(TRAINING_JOBS, _job("u1", stored_rv))
    store.resync(TRAINING_JOBS, [], list_rv)
    assert (store.get(TRAINING_JOBS, "nlp/j") is not None) is stays
    if stays:  # and its later bodies go in: no tombstone refuses the job (the failover test's job without status)
        assert store.put(TRAINING_JOBS, _job("u1", str(int(stored_rv) + 1), "Admitted")) is True
        assert _phase(store, "nlp/j") == "Admitted"


def test_a_list_taken_before_a_deletion_and_applied_after_it_does_not_bring_the_job_back() -> None:
    """The LIST (at 10) holds the job; the watch's DELETED (at 11) arrives while the LIST is read; then the LIST is
    applied."""
    store = Store()
    store.put(TRAINING_JOBS, _job("u1", "8"))
    store.delete(TRAINING_JOBS, _job("u1", "11"))
    store.resync(TRAINING_JOBS, [_job("u1", "8")], "10")
    assert store.get(TRAINING_JOBS, "nlp/j") is None


def test_a_list_item_older_than_the_watched_body_does_not_replace_it() -> None:
    store = Store()
    store.put(TRAINING_JOBS, _job("u1", "12", "Running"))
    store.resync(TRAINING_JOBS, [_job("u1", "8", "Queued")], "10")
    assert _phase(store, "nlp/j") == "Running"


def test_an_object_a_resync_found_gone_refuses_the_bodies_read_before() -> None:
    """A resync removes a job whose DELETED event was missed; a write's response older than the LIST that found it
    gone does not bring it back, a new job of the same name does."""
    store = Store()
    store.put(TRAINING_JOBS, _job("u1", "8"))
    store.resync(TRAINING_JOBS, [], "10")
    assert store.put(TRAINING_JOBS, _job("u1", "9", "Running")) is False
    assert store.put(TRAINING_JOBS, _job("u2", "11")) is True


def test_a_deleted_job_leaves_its_last_metadata_and_status_and_when_it_was_seen_gone() -> None:
    clock = Clock()
    store = Store(clock=clock, wall_clock=lambda: 1_700_000_000.0)
    store.put(TRAINING_JOBS, _job("u1", "7", "Running"))
    store.delete(TRAINING_JOBS, _job("u1", "5"))  # the held body is newer than this one: the held one is kept
    store.delete(PODS, {"metadata": {"namespace": "nlp", "name": "p", "uid": "p1", "resourceVersion": "8"}})
    [(body, seen)] = store.departed(TRAINING_JOBS)
    assert (body, seen) == ({"metadata": {"name": "j", "namespace": "nlp", "uid": "u1", "resourceVersion": "7"},
                             "status": {"phase": "Running"}}, 1_700_000_000.0)
    assert store.departed(PODS) == []  # kept for TrainingJobs only
    clock.now += TOMBSTONE_SECONDS
    store.delete(TRAINING_JOBS, _job("u2", "9"))  # expires the first
    assert [b["metadata"]["uid"] for b, _ in store.departed(TRAINING_JOBS)] == ["u2"]
