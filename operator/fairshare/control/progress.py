"""Training progress, pure: a trainer's step and total steps folded into status.progress, with an ETA.

The rate is measured, not assumed: steps per second between two readings of the same allocation (the previous
reading is newer than the allocation's admission), smoothed like throughput. A resize, a move or a restart starts
the rate again, since the step time changes with them; a step that went back (a resume from an older checkpoint)
does too. Until a rate is known the ETA is left out rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fairshare.api import ProgressStatus
from fairshare.control import conditions as cond
from fairshare.core.throughput import smooth

MAX_STEPS = 2**53  # a trainer's gauges are floats: beyond this they are not counts (and overflow the CRD's int64)
MAX_ETA_SECONDS = 100 * 365 * 86400.0


def duration_text(seconds: float) -> str:
    """'2d3h', '1h20m', '14m25s' or '45s': the two largest units, as kubectl prints ages."""
    total = max(0, int(round(seconds)))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _unix(stamp: object) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp() if stamp else None
    except ValueError:
        return None


def measured_rate(previous: Mapping[str, Any], step: int, observed_at: float, admitted_at: float,
                  alpha: float) -> float | None:
    """Smoothed steps per second from the previous progress to this reading, or None when they are not comparable:
    no previous reading of this allocation, no time between them, or a step that went back."""
    before, at = previous.get("step"), _unix(previous.get("updatedAt"))
    if not isinstance(before, int) or at is None or at < admitted_at or observed_at <= at or step < before:
        return None
    sample = (step - before) / (observed_at - at)
    old = previous.get("stepsPerSecond")
    return smooth(float(old) if isinstance(old, int | float) and old > 0 else None, sample, alpha)


def progress_status(previous: Mapping[str, Any] | None, step: float | None, total_steps: float | None,
                    observed_at: float, admitted_at: float, alpha: float) -> dict[str, Any] | None:
    """The new status.progress (every key written, null where unknown, so a merge patch drops stale ones), or None
    when the trainer reports no usable step and total."""
    if step is None or total_steps is None or not math.isfinite(step) or not math.isfinite(total_steps) \
            or total_steps < 1 or step < 0 or max(step, total_steps) > MAX_STEPS:
        return None
    done, total = int(step), int(total_steps)
    rate = measured_rate(previous or {}, done, observed_at, admitted_at, alpha)
    left = max(0, total - done)
    eta = left / rate if rate else (0.0 if left == 0 else None)
    if eta is not None and eta > MAX_ETA_SECONDS:
        eta = None  # not a date anyone can use (and past what a timestamp can hold)
    return ProgressStatus.merge_patch(
        step=done, total_steps=total, percent=round(min(100.0, 100.0 * done / total), 1),
        steps_per_second=round(rate, 4) if rate is not None else None,
        remaining=duration_text(eta) if eta is not None else None,
        estimated_completion_time=cond.rfc3339(observed_at + eta) if eta is not None else None,
        updated_at=cond.rfc3339(observed_at),
    )
