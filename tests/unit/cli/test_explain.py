"""`fairshare explain` words: a waiting job says why and where it queues; a running one what it holds and measures."""

from __future__ import annotations

from typing import Any

from fairshare.client.explanation import explain_text

WAITING: dict[str, Any] = {
    "metadata": {"namespace": "nlp", "name": "bert"},
    "spec": {"workers": {"min": 2, "max": 2}, "gpusPerWorker": 4, "gpuClasses": ["a100"], "maxPricePerGPUHour": 2.0},
    "status": {"phase": "Queued", "tenant": "nlp",
               "queue": {"position": 3, "reasonCode": "BidBelowPrice",
                         "reason": "tenant nlp is at 1.40x its fair share; bid 2.0 < price 2.6"},
               "conditions": [{"type": "Admitted", "status": "False", "reason": "Waiting", "message": "..."}]},
}
RUNNING: dict[str, Any] = {
    "metadata": {"namespace": "nlp", "name": "gpt"},
    "spec": {"workers": {"min": 1, "max": 4}, "gpusPerWorker": 8},
    "status": {"phase": "Running", "tenant": "nlp",
               "allocation": {"gpuClass": "h100", "workers": 2, "gpus": 16, "nodes": ["h100-000", "h100-001"],
                              "pricePerGPUHour": 4.0, "admittedAt": "2026-11-22T10:00:00Z", "opportunistic": True},
               "throughput": [{"gpuClass": "h100", "workers": 2, "samplesPerSecond": 812.5,
                               "measuredAt": "2026-11-22T10:05:00Z"}],
               "cost": {"credits": 5.3, "gpuHours": 1.3, "energyKWh": 0.9},
               "progress": {"step": 850, "totalSteps": 2000, "percent": 42.5, "stepsPerSecond": 1.33,
                            "remaining": "14m25s", "estimatedCompletionTime": "2026-11-22T10:19:25Z",
                            "updatedAt": "2026-11-22T10:05:00Z"}},
}
TENANT = {"status": {"fairShare": {"a100": 12.5, "h100": 4.0}, "allocated": {"h100": 16}, "shareRatio": 1.4,
                     "creditsLeft": 80.0}}


def test_a_waiting_job_shows_its_position_reason_and_bid() -> None:
    text = explain_text(WAITING, TENANT, [{"reason": "Preempted", "message": "reclaimed for tenant cv"}])
    assert text.splitlines()[0] == "TrainingJob nlp/bert: Queued"
    assert "2 worker(s) x 4 GPU(s) on a100, bid 2.0 credits/GPU-hour" in text
    assert ("BidBelowPrice: 3 jobs ahead in its tenant's queue (0 = next); tenant nlp is at 1.40x its fair share; "
            "bid 2.0 < price 2.6") in text
    assert "a100 12.5, h100 4.0 GPUs; holds h100 16 (at 1.40x its fair share); 80.0 credits left this period" in text
    assert "event Preempted:  reclaimed for tenant cv" in text


def test_a_running_job_shows_what_it_holds_and_measures() -> None:
    text = explain_text(RUNNING, None, [])
    assert "1-4 worker(s) x 8 GPU(s) on any class" in text
    assert "2 x h100 (16 GPUs) on h100-000, h100-001, on idle capacity (preemptible), at 4.0" in text
    assert "812.5 samples/s on 2 x h100" in text
    assert "5.3 credits, 1.3 GPU-hours, 0.9 kWh" in text
    assert ("progress:         42.5% (step 850 of 2000), 1.33 steps/s, about 14m25s left (until 2026-11-22T10:19:25Z)"
            in text)
    assert "tenant share" not in text  # the tenant could not be read


def test_a_job_the_operator_has_not_seen_says_so() -> None:
    assert explain_text({"metadata": {"namespace": "a", "name": "b"}, "spec": {}}, None, []).startswith(
        "TrainingJob a/b: not yet seen by the operator")


BACKING_OFF: dict[str, Any] = {
    "metadata": {"namespace": "nlp", "name": "ckpt"},
    "spec": {"workers": {"min": 2, "max": 2}, "gpusPerWorker": 4, "runPolicy": {"backoffLimit": 3}},
    "status": {"phase": "Queued", "tenant": "nlp", "restarts": 1,
               "queue": {"reason": "worker ckpt-worker-0: PVC nlp-checkpoints not found: ...; restarting"},
               "lastFailure": {"reason": "PVCNotFound", "message": "PVC nlp-checkpoints not found: create it",
                               "worker": "ckpt-worker-0", "at": "2026-11-22T10:00:00Z",
                               "retryAfter": "2026-11-22T10:00:10Z"}},
}


def test_a_failing_job_shows_its_last_failure_and_restarts() -> None:
    text = explain_text(BACKING_OFF, None, [])
    assert ("last failure:     PVCNotFound: PVC nlp-checkpoints not found: create it (worker ckpt-worker-0, at "
            "2026-11-22T10:00:00Z); not admitted again before 2026-11-22T10:00:10Z") in text
    assert "restarts:         1 of runPolicy.backoffLimit 3" in text


def test_a_job_stopped_by_a_lost_node_holds_nothing() -> None:
    preempted = {**RUNNING, "status": {**RUNNING["status"], "phase": "Preempted",
                                       "lastFailure": {"reason": "NodeLost", "message": "node h100-001 no longer "
                                                       "exists", "worker": "gpt-worker-1", "at": "x"}}}
    text = explain_text(preempted, None, [])
    assert "holds:" not in text and "releasing:" in text and "NodeLost: node h100-001 no longer exists" in text


def test_the_next_job_in_line_says_none_are_ahead() -> None:
    job = {**WAITING, "status": {**WAITING["status"], "queue": {"position": 0, "reasonCode": "WaitingForCapacity",
                                                                "reason": "no room on a100"}}}
    assert "WaitingForCapacity: 0 jobs ahead in its tenant's queue (0 = next); no room on a100" in explain_text(
        job, None, [])
