"""Status models: what the operator writes comes out camelCase, RFC 3339, and tolerant of unknown keys."""

from __future__ import annotations

import datetime as dt

import pytest

from fairshare.api import (
    AllocationStatus,
    Condition,
    CostStatus,
    GPUClassStatus,
    Phase,
    TenantStatus,
    ThroughputSample,
    TrainingJobStatus,
)

NOW = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def test_job_status_serializes_to_the_crd_names() -> None:
    status = TrainingJobStatus(
        tenant="nlp", phase=Phase.RUNNING,
        conditions=[Condition(type="Admitted", status="True", last_transition_time=NOW, reason="Admitted",
                              message="2 workers on a100")],
        allocation=AllocationStatus(gpu_class="a100", workers=2, gpus=16, price_per_gpu_hour=2.6, admitted_at=NOW,
                                    generation=1),
        throughput=[ThroughputSample(gpu_class="a100", workers=2, samples_per_second=812.5, measured_at=NOW)],
        cost=CostStatus(credits=10, gpu_hours=4, energy_kwh=1.6),
    )
    assert status.to_body() == {
        "tenant": "nlp", "phase": "Running",
        "conditions": [{"type": "Admitted", "status": "True", "lastTransitionTime": "2025-01-02T03:04:05Z",
                        "reason": "Admitted", "message": "2 workers on a100"}],
        "allocation": {"gpuClass": "a100", "workers": 2, "gpus": 16, "nodes": [], "pricePerGPUHour": 2.6,
                       "admittedAt": "2025-01-02T03:04:05Z", "generation": 1},
        "throughput": [{"gpuClass": "a100", "workers": 2, "samplesPerSecond": 812.5,
                        "measuredAt": "2025-01-02T03:04:05Z"}],
        "cost": {"credits": 10.0, "gpuHours": 4.0, "energyKWh": 1.6},
    }


@pytest.mark.parametrize(
    ("model", "body"),
    [
        pytest.param(TrainingJobStatus, {"phase": "Queued", "queue": {"position": 2, "reason": "bid 2.0 < price 2.6"},
                                         "kopf": {"progress": {}}}, id="job status with kopf's key"),
        pytest.param(TenantStatus, {"allocated": {"a100": 8}, "allocatedGPUs": 8, "fairShare": {"a100": 6.5},
                                    "shareRatio": 1.04, "decayedUsageGPUHours": 1.5, "newerField": True},
                     id="tenant status"),
        pytest.param(GPUClassStatus, {"capacity": 64, "allocated": 8, "idle": 56, "currentPricePerGPUHour": 2.4},
                     id="class status"),
    ],
)
def test_status_round_trips_and_keeps_unknown_keys(model: type, body: dict[str, object]) -> None:
    assert model.model_validate(body).to_body() == {**model().to_body(), **body}


@pytest.mark.parametrize(("phase", "terminal"), [(phase, phase in (Phase.SUCCEEDED, Phase.FAILED)) for phase in Phase])
def test_only_succeeded_and_failed_are_terminal(phase: Phase, terminal: bool) -> None:
    assert phase.is_terminal is terminal
