"""Helpers for the core's tests: a compact view of a cycle's decisions, and hypothesis settings by profile."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from fairshare.core.decisions import Admit, CycleResult, Preempt, Resize, Wait

# HYPOTHESIS_PROFILE=thorough runs ten times the examples of the default (which keeps the core under a minute).
_SCALE = 10 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1


def examples(n: int) -> settings:
    """Settings for a property test: n examples by default, 10n under the thorough profile, no deadline."""
    return settings(max_examples=n * _SCALE, deadline=None, derandomize=_SCALE == 1,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


Row = tuple[object, ...]


def summary(result: CycleResult) -> list[Row]:
    """Each decision as a short tuple: ("admit", key, class, nodes[, "opportunistic"]), ("wait", key, position),
    ("preempt", key), ("resize", key, workers, nodes)."""
    rows: list[Row] = []
    for d in result.decisions:
        if isinstance(d, Admit):
            rows.append(("admit", d.job_key, d.gpu_class, d.nodes, *(("opportunistic",) if d.opportunistic else ())))
        elif isinstance(d, Wait):
            rows.append(("wait", d.job_key, d.position))
        elif isinstance(d, Preempt):
            rows.append(("preempt", d.job_key))
        elif isinstance(d, Resize):
            rows.append(("resize", d.job_key, d.workers, d.nodes))
    return rows


def reason(result: CycleResult, job_key: str) -> str:
    """The reason given for a Wait, Preempt or Resize of one job."""
    d = result.for_job(job_key)
    assert isinstance(d, Wait | Preempt | Resize), f"{job_key}: {d}"
    return d.reason
