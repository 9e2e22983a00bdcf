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
    StatusModel,
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


@pytest.mark.parametrize(("model", "fields", "want"), [
    pytest.param(TrainingJobStatus, {"phase": "Queued", "samples_per_second": None, "last_failure": {"at": "t"}},
                 {"phase": "Queued", "samplesPerSecond": None, "lastFailure": {"at": "t"}},
                 id="wire names; null kept (it deletes); values as given"),
    pytest.param(AllocationStatus, {"price_per_gpu_hour": 2.5}, {"pricePerGPUHour": 2.5}, id="an explicit alias"),
    pytest.param(TenantStatus, {"decayed_usage_gpu_hours": 1.5, "allocated_gpus": 8},
                 {"decayedUsageGPUHours": 1.5, "allocatedGPUs": 8}, id="acronyms as the CRD spells them"),
    pytest.param(CostStatus, {}, {}, id="nothing given, nothing written"),
])
def test_merge_patch_keys_exactly_the_given_fields_as_the_model_dumps_them(
        model: type[StatusModel], fields: dict[str, object], want: dict[str, object]) -> None:
    assert model.merge_patch(**fields) == want


def test_merge_patch_refuses_a_field_the_model_lacks() -> None:
    with pytest.raises(TypeError, match="GPUClassStatus has no field 'idel'"):
        GPUClassStatus.merge_patch(idel=3)
