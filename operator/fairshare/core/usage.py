"""Usage and spend as pure functions: decayed GPU-hours (half-life) and credits for GPUs held at a price."""

from __future__ import annotations

import math


def decay_factor(elapsed_hours: float, half_life_hours: float) -> float:
    """How much of past usage survives `elapsed_hours`: 2^(-elapsed / half-life)."""
    return float(0.5 ** (max(0.0, elapsed_hours) / half_life_hours))


def decay_usage(decayed_gpu_hours: float, gpus_in_use: float, elapsed_hours: float, half_life_hours: float) -> float:
    """Decayed usage after holding `gpus_in_use` GPUs for `elapsed_hours`.

    Exact for a constant number of GPUs over the interval, so the result does not depend on how often the
    operator calls it: the old usage decays, and each moment's use decays from when it happened.
    """
    factor = decay_factor(elapsed_hours, half_life_hours)
    fresh = gpus_in_use * half_life_hours / math.log(2.0) * (1.0 - factor)
    return decayed_gpu_hours * factor + fresh


def spend(gpus: float, price_per_gpu_hour: float, elapsed_hours: float) -> float:
    """Credits for holding `gpus` GPUs at a price for a while: allocation x price x elapsed hours."""
    return gpus * price_per_gpu_hour * max(0.0, elapsed_hours)
