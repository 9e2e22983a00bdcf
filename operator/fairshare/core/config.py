"""Policy knobs for one scheduling cycle, with the defaults a platform team gets from the Helm chart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Tunable policy; every field has a default that is safe for a shared cluster.

    - half_life_hours: decayed usage halves every this many hours (Slurm's PriorityDecayHalfLife).
    - usage_discount: discount tenant weights by decayed past usage (Slurm's fair-share factor 2^(-U/S)).
    - min_run_seconds: a job that has run less than this is not preempted to make room for another
      tenant's share (guarantee reclaim ignores it: a guarantee is a promise, borrowing is a loan).
    - price_floor_fraction: prices never fall below this fraction of a class's list price.
    - price_iterations / price_tolerance: proportional-response rounds, and the largest change of any bid
      (as a fraction of the largest budget) at which the market counts as settled.
    - price_settle: a market started from the last cycle's prices and fair shares (when the snapshot carries
      them) also counts as settled once no price moves by more than this fraction for two rounds running; 0
      waits for the bids alone. 0.1% is far finer than anything the admission rules can tell apart (a tenant
      admits while its spend is within a factor of its entitlement).
    - elastic_growth_threshold: an elastic job adds a worker only while the marginal efficiency of that
      worker (extra throughput per GPU over the average per GPU) is at least this times price / list price.
    - migration_gain: a measured running job moves to another class when it is expected to run at least this many
      times faster there (or two jobs swap classes when the product of their speed-ups is at least this); 0
      disables moves. Moves wait for min_run_seconds, like preemption, so a job is never bounced around.
    - service_quantum_gpu_hours / service_band_growth: within a tenant and a priority, jobs go in order of
      attained service (GPU-hours held so far) in bands: under one quantum, then under growth x quantum, then
      under growth^2 x quantum, ...; first submitted first within a band (Tiresias's discretised least attained
      service). A waiting job may replace its own tenant's running job of a later band once that job has run
      min_run_seconds. A quantum of 0 keeps plain submission order and no replacement.
    - throughput_smoothing: weight of a new sample in the exponentially weighted mean of throughput.
    - fair_sharing_preemption: a tenant below its fair share, with pending work its share pays for, takes GPUs
      from tenants above theirs (shrinking elastic jobs first), as long as it ends no higher above its share than
      the victim's tenant (core/fairsharing.py). Off: GPUs move toward the shares only as jobs end.
    - fair_sharing_min_gain: a fair-sharing preemption happens only when the preemptor's share ratio after the
      move is at least this much below the victim tenant's after the move. 0 (the default) is Kueue's
      LessThanOrEqualToFinalShare exactly, which already cannot loop (see core/fairsharing.py); a margin leaves
      tenants up to that far apart in exchange for fewer preemptions.
    - price_max_step: each cycle a class's price moves at most this fraction away from the last cycle's price
      (the equilibrium is followed, but damped, so a waiting job's cheapest class does not flip under churn);
      0 turns damping off. Prices never rise above the list price.
    - pause_gc: pause Python's cyclic garbage collector for the cycle (restored after). A cycle allocates
      ~10^5 short-lived objects; each collection would re-scan the whole snapshot for nothing (~20% of a
      large cycle). The collector catches up as soon as the cycle returns.
    - lookahead: how many of a tenant's jobs a step examines in full and fails to place before it stops
      looking further down that tenant's queue this cycle (Kueue looks only at queue heads); the quick
      checks (share, budget, no room anywhere) still reach every job, so every wait keeps a precise reason.
    """

    half_life_hours: float = 24.0
    usage_discount: bool = True
    min_run_seconds: float = 600.0
    price_floor_fraction: float = 0.2
    price_iterations: int = 60
    price_tolerance: float = 1e-5
    price_settle: float = 1e-3
    elastic_growth_threshold: float = 1.0
    throughput_smoothing: float = 0.3
    migration_gain: float = 1.5
    service_quantum_gpu_hours: float = 1.0
    service_band_growth: float = 10.0
    lookahead: int = 32
    fair_sharing_preemption: bool = True
    fair_sharing_min_gain: float = 0.0
    price_max_step: float = 0.25
    pause_gc: bool = True

    def __post_init__(self) -> None:
        if self.half_life_hours <= 0:
            raise ValueError("half_life_hours must be > 0")
        if not 0 < self.price_floor_fraction <= 1:
            raise ValueError("price_floor_fraction must be in (0, 1]")
        if self.price_iterations < 1:
            raise ValueError("price_iterations must be >= 1")
        if self.price_settle < 0:
            raise ValueError("price_settle must be >= 0")
        if not 0 < self.throughput_smoothing <= 1:
            raise ValueError("throughput_smoothing must be in (0, 1]")
        if self.migration_gain != 0 and self.migration_gain <= 1:
            raise ValueError("migration_gain must be > 1 (or 0 to disable moves)")
        if self.service_quantum_gpu_hours < 0:
            raise ValueError("service_quantum_gpu_hours must be >= 0")
        if self.service_band_growth <= 1:
            raise ValueError("service_band_growth must be > 1")
        if self.fair_sharing_min_gain < 0:
            raise ValueError("fair_sharing_min_gain must be >= 0")
        if not self.price_max_step >= 0:  # also refuses NaN
            raise ValueError("price_max_step must be >= 0 (0 disables damping)")
        if self.lookahead < 1:
            raise ValueError("lookahead must be >= 1")
