"""How a job's batch size (and so its throughput) drifts while it trains: Shockwave's gns and accordion modes.

The model is piecewise constant in progress (fraction of the job's samples done):
- static: the trace's template throughout.
- gns (gradient noise scale, McCandlish et al. 2018): the noise scale grows as loss falls, so the batch
  size steps one rung up the model's batch-size ladder at 25 %, 50 % and 75 % of the work.
- accordion (Agarwal et al., MLSys'21): small batch in the critical regimes (the first 10 % and just after
  the learning-rate decays at 50 % and 75 %, for 5 % each), otherwise up to two rungs (4x) larger.
The ladder is the Gavel templates of the same model with batch size ≥ the trace's, so every phase has a
measured throughput. Work is counted in samples, so a larger batch changes samples/s, not the work.
"""

from __future__ import annotations

from fairshare.simulator.throughput_matrix import ThroughputMatrix, batch_ladder
from fairshare.simulator.workload import Phase

GNS_STEP_POINTS = (0.25, 0.5, 0.75)
ACCORDION_CRITICAL = ((0.0, 0.10), (0.50, 0.55), (0.75, 0.80))
ACCORDION_LARGE_RUNG = 2
MODES = ("static", "gns", "accordion")


def phases_for(mode: str, job_type: str, matrix: ThroughputMatrix) -> tuple[Phase, ...]:
    """The job's phases for batch-size adaptation `mode`, each a (start fraction, template) pair."""
    ladder = batch_ladder(matrix, job_type)
    if mode == "static" or len(ladder) == 1:
        return (Phase(0.0, job_type),)
    if mode == "gns":
        starts = (0.0, *GNS_STEP_POINTS)
        return _merge_repeats([Phase(s, ladder[min(i, len(ladder) - 1)]) for i, s in enumerate(starts)])
    if mode == "accordion":
        large = ladder[min(ACCORDION_LARGE_RUNG, len(ladder) - 1)]
        phases: list[Phase] = []
        for begin, end in ACCORDION_CRITICAL:
            phases += [Phase(begin, job_type), Phase(end, large)]
        return _merge_repeats(phases)
    raise ValueError(f"unknown drift mode {mode!r}; expected one of {', '.join(MODES)}")


def _merge_repeats(phases: list[Phase]) -> tuple[Phase, ...]:
    """Drop a phase that keeps the previous one's template: it changes nothing and would cost an event."""
    merged = [phases[0]]
    for phase in phases[1:]:
        if phase.job_type != merged[-1].job_type:
            merged.append(phase)
    return tuple(merged)
