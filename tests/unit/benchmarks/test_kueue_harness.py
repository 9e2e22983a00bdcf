"""The Kueue harness's manifests per system and its threshold check, on made-up results (no cluster)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import kueue_report  # noqa: E402
import kueue_systems  # noqa: E402
from kueue_shape import Arrival, Queue  # noqa: E402

LARGE = Arrival(1.2, "large-2-0-0", "cq-0-0-cohort-0", "large", 1000, 200, 20)
QUEUE = Queue("cq-0-0-cohort-0", "cohort-0", "cq", 20, 100)


def test_operator_job_is_a_gang_on_its_cohorts_class() -> None:
    (tj,) = kueue_systems.job("operator", LARGE, "cohort-0", 10)
    assert tj["kind"] == "TrainingJob" and tj["metadata"]["namespace"] == "op-cq-0-0-cohort-0"
    assert tj["spec"]["workers"] == {"min": 2, "max": 2} and tj["spec"]["gpusPerWorker"] == 10
    assert tj["spec"]["gpuClasses"] == ["operator-cohort-0"] and tj["spec"]["priority"] == 200
    assert tj["spec"]["podTemplate"]["metadata"]["annotations"]["localcluster.fairshare.dev/simulate-duration"] == \
        "1000ms"


def test_kueue_job_is_created_suspended_in_its_local_queue() -> None:
    (job,) = kueue_systems.job("kueue", LARGE, "cohort-0", 10)
    assert job["spec"]["suspend"] is True and job["spec"]["parallelism"] == job["spec"]["completions"] == 2
    assert job["metadata"]["labels"] == {"kueue.x-k8s.io/queue-name": "lq", "kueue.x-k8s.io/priority-class": "p200"}
    limits = job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "10"}


def test_bare_job_is_one_pod_per_worker_pinned_to_its_pool() -> None:
    pods = kueue_systems.job("bare", LARGE, "cohort-0", 10)
    assert [p["metadata"]["name"] for p in pods] == ["large-2-0-0-0", "large-2-0-0-1"]
    assert {p["spec"]["nodeSelector"]["fairshare.dev/gpu-class"] for p in pods} == {"bare-cohort-0"}


@pytest.mark.parametrize(("system", "kinds"), [
    pytest.param("operator", ["Namespace", "GPUClass", "Tenant"], id="operator: a tenant per queue"),
    pytest.param("kueue", ["Namespace", "ResourceFlavor", "WorkloadPriorityClass", "WorkloadPriorityClass",
                           "WorkloadPriorityClass", "WorkloadPriorityClass", "ClusterQueue", "LocalQueue"],
                 id="kueue: a cluster queue and local queue per queue"),
    pytest.param("bare", ["Namespace"], id="bare: namespaces only"),
])
def test_setup_objects(system: str, kinds: list[str]) -> None:
    assert [d["kind"] for d in kueue_systems.setup_objects(system, (QUEUE,))] == kinds


def test_tenant_carries_quota_and_borrowing_limit() -> None:
    tenant = kueue_systems.setup_objects("operator", (QUEUE,))[-1]
    assert tenant["spec"]["guaranteed"] == {"operator-cohort-0": 20}
    assert tenant["spec"]["borrowingLimit"] == {"operator-cohort-0": 100}


def result(wall: float, large: float, completed: bool = True) -> dict[str, Any]:
    return {"completed": completed, "jobs": 10, "finished": 10 if completed else 5, "wall_s": wall,
            "usage_pct": {"cq": 60.0}, "time_to_admission": {"large": {"avg_s": large, "p99_s": large}}}


RANGESPEC = {"cmd": {"maxWallMs": 425_000}, "wlClassesMaxAvgTimeToAdmissionMs": {"large": 11_000},
             "clusterQueueClassesMinUsage": {"cq": 55}}


@pytest.mark.parametrize(("scale", "results", "missed"), [
    pytest.param(0.1, {"bare": result(100, 10), "operator": result(300, 100)}, [], id="within the ratios"),
    pytest.param(0.1, {"bare": result(100, 10), "operator": result(500, 100)}, ["operator: wall"],
                 id="wall time over 4.5x the bare pods'"),
    pytest.param(0.1, {"bare": result(100, 10), "operator": result(300, 250)}, ["operator: large"],
                 id="large jobs wait too long beyond the floor"),
    pytest.param(0.1, {"operator": result(300, 100)}, ["operator: ratios need"], id="no floor to compare with"),
    pytest.param(0.1, {"bare": result(100, 10), "operator": result(300, 100, completed=False)},
                 ["operator: 5 of 10"], id="unfinished run"),
])
def test_check_ci_profile(scale: float, results: dict[str, Any], missed: list[str]) -> None:
    report = {"scale": scale, "kueue_thresholds": RANGESPEC, "results": results}
    failures = kueue_report.check(report, "ci")
    assert [f for f in failures if not any(f.startswith(m) for m in missed)] == []
    assert all(any(f.startswith(m) for f in failures) for m in missed)


@pytest.mark.parametrize(("operator", "missed"), [
    pytest.param(result(400, 10), [], id="meets Kueue's rangespec"),
    pytest.param(result(430, 12), ["operator: wall", "operator: large"], id="over wall time and large admission"),
])
def test_check_full_profile_applies_kueues_rangespec(operator: dict[str, Any], missed: list[str]) -> None:
    failures = kueue_report.check({"scale": 1, "kueue_thresholds": RANGESPEC, "results": {"operator": operator}},
                                   "full")
    assert [f.split(" ")[0] + " " + f.split(" ")[1] for f in failures] == missed


QUEUED = {"phase": "Queued", "queue": {"position": 2, "reasonCode": "WaitingForCapacity", "reason": "no room"}}


def _queued(position: int | None, reason: str = "no room") -> dict[str, Any]:
    return {**QUEUED, "queue": {**QUEUED["queue"], "position": position, "reason": reason}}


@pytest.mark.parametrize(("before", "after", "kind"), [
    pytest.param(None, QUEUED, "queue entry (first)", id="first wait"),
    pytest.param({"phase": "Preempted"}, QUEUED, "queue entry (from Preempted)", id="requeued"),
    pytest.param(_queued(2), _queued(1), "queue entry (position, front)", id="moved at the front"),
    pytest.param(_queued(4), _queued(3), "queue entry (position, front)", id="onto the front"),
    pytest.param(_queued(40), _queued(20), "queue entry (position, further back)", id="moved further back"),
    pytest.param(_queued(None), _queued(5), "queue entry (position, further back)", id="given a position"),
    pytest.param(_queued(2), _queued(2, "other"), "queue entry (reason)", id="new reason"),
    pytest.param(QUEUED, {"phase": "Admitted"}, "admission", id="admitted"),
    pytest.param({"phase": "Admitted"}, {"phase": "Running"}, "running", id="running"),
    pytest.param({"phase": "Running"}, {"phase": "Succeeded"}, "finish", id="finished"),
    pytest.param({"phase": "Admitted"}, {"phase": "Failed"}, "finish", id="failed"),
    pytest.param({"phase": "Running"}, {"phase": "Running", "cost": {"credits": 1}}, "Running: other", id="charged"),
    pytest.param(QUEUED, QUEUED, None, id="no status change"),
])
def test_status_changes_are_told_apart(before: dict[str, Any] | None, after: dict[str, Any],
                                       kind: str | None) -> None:
    import kueue_harness

    assert kueue_harness.status_change(before, after) == kind


@pytest.mark.parametrize(("status", "seen", "decided"), [
    pytest.param({"phase": "Queued", "conditions": [
        {"type": "Admitted", "status": "False", "lastTransitionTime": "2026-01-01T00:00:10Z"}]},
        10.0, None, id="first queue entry: seen when its Waiting condition was set"),
    pytest.param({"phase": "Admitted", "allocation": {"admittedAt": "2026-01-01T00:00:12Z"}},
                 12.0, 12.0, id="admitted in the cycle that first saw it"),
    pytest.param({}, None, None, id="no status yet"),
])
def test_the_cycles_that_saw_and_admitted_a_job_come_from_its_status(
        status: dict[str, Any], seen: float | None, decided: float | None) -> None:
    import kueue_harness

    w = kueue_harness.Watcher(None, "operator", {"ns/j": 1})
    w.offset = kueue_harness._epoch("2026-01-01T00:00:00Z")
    w._see_cycles("ns/j", status)
    assert (w.seen_by_cycle.get("ns/j"), w.decided.get("ns/j")) == (seen, decided)


@pytest.mark.parametrize(("spans", "seconds", "series"), [
    pytest.param([(0.0, 2.0, 4)], 3, [4.0, 4.0, 0.0], id="whole seconds"),
    pytest.param([(0.5, 1.5, 2)], 3, [1.0, 1.0, 0.0], id="a span counts for the part of each second it covers"),
    pytest.param([(0.0, 1.0, 1), (2.0, 3.0, 1)], 4, [1.0, 0.0, 1.0, 0.0], id="nothing held between two admissions"),
    pytest.param([(0.0, 1.0, 1), (0.0, 1.0, 3)], 1, [4.0], id="jobs add up"),
    pytest.param([(1.0, 9.0, 1)], 3, [0.0, 1.0, 1.0], id="cut at the end of the series"),
])
def test_gpus_held_each_second_counts_only_admitted_spans(spans: list[tuple[float, float, int]], seconds: int,
                                                          series: list[float]) -> None:
    import kueue_harness

    assert kueue_harness.gpus_held_each_second(spans, seconds) == series


def _workload(*conditions: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": "job-j-1", "ownerReferences": [{"kind": "Job", "name": "j"}]},
            "status": {"conditions": [{"type": c, "status": "True"} for c in conditions]}}


def test_an_evicted_workload_holds_nothing_until_it_is_admitted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import kueue_harness

    w = kueue_harness.Watcher(None, "kueue", {"ns/j": 1})
    clock = iter([10.0, 20.0, 30.0, 45.0])
    monkeypatch.setattr(kueue_harness.time, "monotonic", lambda: next(clock))
    for seen in (_workload("Admitted"), _workload("Evicted"), _workload("Admitted"), _workload("Admitted", "Finished")):
        w._see(seen)
    assert w.admitted == {"ns/j": 10.0} and w.finished == {"ns/j": 45.0}
    assert w.spans_until("ns/j", 99.0) == [(10.0, 20.0), (30.0, 45.0)]
