"""Lookup rules on Gavel's throughput table: measured, extrapolated, spread over servers, cannot run."""

from __future__ import annotations

import pytest

from fairshare.simulator.throughput_matrix import batch_ladder, batch_size_of, model_of
from tests.unit.simulator.builders import R18, R18_64, R18_128, REC, tiny_matrix


@pytest.mark.parametrize(("job_type", "gpu", "gpus", "consolidated", "want"), [
    pytest.param(R18, "v100", 1, True, 30.0, id="measured 1 GPU"),
    pytest.param(R18, "v100", 4, True, 114.0, id="measured 4 GPUs on one server"),
    pytest.param(R18, "v100", 4, False, 38.0, id="4 GPUs spread over servers reads _unconsolidated"),
    pytest.param(R18, "k80", 2, False, 12.0, id="spread without an _unconsolidated row falls back"),
    pytest.param(R18, "v100", 8, True, 228.0, id="8 GPUs extrapolate linearly from 4"),
    pytest.param(R18, "v100", 3, True, 56.0 * 3 / 2, id="3 GPUs scale from 2"),
    pytest.param(REC, "v100", 2, True, 120.0, id="single-GPU template scales from 1"),
    pytest.param(REC, "k80", 1, True, 0.0, id="0.0 means it cannot run"),
    pytest.param("Unknown", "v100", 1, True, 0.0, id="unknown template"),
    pytest.param(R18, "v100", 0, True, 0.0, id="no GPUs"),
])
def test_steps_per_second(job_type: str, gpu: str, gpus: int, consolidated: bool, want: float) -> None:
    assert tiny_matrix().steps_per_second(job_type, gpu, gpus, consolidated) == pytest.approx(want)


@pytest.mark.parametrize(("job_type", "batch", "model"), [
    pytest.param(R18, 32, "ResNet-18", id="resnet"),
    pytest.param("A3C", 1, "A3C", id="no batch size"),
])
def test_template_names(job_type: str, batch: int, model: str) -> None:
    assert (batch_size_of(job_type), model_of(job_type)) == (batch, model)


def test_batch_ladder_lists_larger_batches_of_the_same_model() -> None:
    assert batch_ladder(tiny_matrix(), R18) == (R18, R18_64, R18_128)
    assert batch_ladder(tiny_matrix(), R18_64) == (R18_64, R18_128)
    assert batch_ladder(tiny_matrix(), "A3C") == ("A3C",)
