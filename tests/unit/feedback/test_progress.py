"""The trainer's step and total steps become status.progress: percent, a measured step rate, and an ETA."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.control.progress import duration_text, progress_status
from tests.unit.control.builders import NOW, ts
from tests.unit.feedback.test_feedback_status import CLUSTER, patches, reading, running_job

ALPHA = 0.5
ADMITTED = NOW - 600


def previous(step: int, ago: float, rate: float | None = None) -> dict[str, Any]:
    return {"step": step, "totalSteps": 1000, "updatedAt": ts(ago), **({"stepsPerSecond": rate} if rate else {})}


@pytest.mark.parametrize(("before", "step", "total", "want"), [
    pytest.param(None, 250, 1000, {"step": 250, "totalSteps": 1000, "percent": 25.0, "stepsPerSecond": None,
                                   "remaining": None, "estimatedCompletionTime": None, "updatedAt": ts(0)},
                 id="first reading: percent, no rate yet, no guessed ETA"),
    pytest.param(previous(200, 50), 250, 1000,
                 {"step": 250, "totalSteps": 1000, "percent": 25.0, "stepsPerSecond": 1.0, "remaining": "12m30s",
                  "estimatedCompletionTime": ts(-750), "updatedAt": ts(0)},
                 id="second reading of the allocation: 50 steps in 50 s, 750 to go"),
    pytest.param(previous(200, 50, rate=3.0), 250, 1000,
                 {"step": 250, "totalSteps": 1000, "percent": 25.0, "stepsPerSecond": 2.0, "remaining": "6m15s",
                  "estimatedCompletionTime": ts(-375), "updatedAt": ts(0)},
                 id="the rate is smoothed with the stored one"),
    pytest.param(previous(200, 700, rate=3.0), 250, 1000,
                 {"step": 250, "totalSteps": 1000, "percent": 25.0, "stepsPerSecond": None, "remaining": None,
                  "estimatedCompletionTime": None, "updatedAt": ts(0)},
                 id="previous reading from before this allocation: the rate starts again"),
    pytest.param(previous(300, 50, rate=3.0), 250, 1000,
                 {"step": 250, "totalSteps": 1000, "percent": 25.0, "stepsPerSecond": None, "remaining": None,
                  "estimatedCompletionTime": None, "updatedAt": ts(0)},
                 id="resumed from an older checkpoint: the rate starts again"),
    pytest.param(previous(990, 10), 1000, 1000,
                 {"step": 1000, "totalSteps": 1000, "percent": 100.0, "stepsPerSecond": 1.0, "remaining": "0s",
                  "estimatedCompletionTime": ts(0), "updatedAt": ts(0)},
                 id="done"),
    pytest.param(None, 1200, 1000,
                 {"step": 1200, "totalSteps": 1000, "percent": 100.0, "stepsPerSecond": None, "remaining": "0s",
                  "estimatedCompletionTime": ts(0), "updatedAt": ts(0)},
                 id="past its total: 100 %, never more"),
    pytest.param(None, 250, None, None, id="no total reported: no progress"),
    pytest.param(None, 250, 0, None, id="total 0 (train until stopped): no progress"),
    pytest.param(None, None, 1000, None, id="no step reported: no progress"),
    pytest.param(None, float("nan"), 1000, None, id="a NaN step: no progress"),
    pytest.param(None, 5, 1e308, None, id="a total no counter reaches (past int64): no progress"),
    pytest.param(previous(0, 10), 1, 2**53,
                 {"step": 1, "totalSteps": 2**53, "percent": 0.0, "stepsPerSecond": 0.1,
                  "remaining": None, "estimatedCompletionTime": None, "updatedAt": ts(0)},
                 id="an ETA past any date: none written, nothing raised"),
])
def test_progress_from_a_reading(before: dict[str, Any] | None, step: float | None, total: float | None,
                                 want: dict[str, Any] | None) -> None:
    assert progress_status(before, step, total, NOW, ADMITTED, ALPHA) == want


@pytest.mark.parametrize(("seconds", "text"), [
    pytest.param(0, "0s", id="none"), pytest.param(45.4, "45s", id="seconds"),
    pytest.param(865, "14m25s", id="minutes"), pytest.param(4800, "1h20m", id="hours"),
    pytest.param(183600, "2d3h", id="days"),
])
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_a_reading_with_steps_writes_progress_beside_the_throughput() -> None:
    job, *pods = running_job()
    job = job.status(progress=previous(400, 100))
    [patch] = patches([*CLUSTER, job, *pods], {"nlp/bert": reading(120.0, step=500.0, total_steps=1000.0)})
    assert patch.status["progress"] == {"step": 500, "totalSteps": 1000, "percent": 50.0, "stepsPerSecond": 1.0,
                                        "remaining": "8m20s", "estimatedCompletionTime": ts(-500),
                                        "updatedAt": ts(0)}


def test_a_reading_without_a_total_leaves_progress_alone() -> None:
    [patch] = patches([*CLUSTER, *running_job()], {"nlp/bert": reading(120.0, step=500.0)})
    assert "progress" not in patch.status
