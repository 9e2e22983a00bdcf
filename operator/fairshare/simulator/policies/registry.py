"""The policies behind one interface (the Policy protocol): ours (the market) and the baselines it is compared with."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

from fairshare.core import allocator
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import CycleResult
from fairshare.core.types import Snapshot
from fairshare.simulator.policies import baselines, gavel

Clock = Callable[[], float]


@runtime_checkable
class Policy(Protocol):
    """Anything that turns a snapshot (at a time, under a config) into one cycle's decisions."""

    @property
    def name(self) -> str:
        """The policy's name, as used on the command line and in reports."""
        ...

    def schedule(self, snapshot: Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        """Run one cycle."""
        ...


@dataclass(frozen=True, slots=True)
class MarketPolicy:
    """Ours: fair share, market prices, throughput-aware placement, guarantee reclaim (allocator.schedule)."""

    clock: Clock = time.perf_counter
    name: ClassVar[str] = "market"

    def schedule(self, snapshot: Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        """Run one cycle of the market policy."""
        return allocator.schedule(snapshot, now, config, clock=self.clock)


@dataclass(frozen=True, slots=True)
class FifoPolicy:
    """Strict first-in first-out over the whole cluster."""

    clock: Clock = time.perf_counter
    name: ClassVar[str] = "fifo"

    def schedule(self, snapshot: Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        """Run one FIFO cycle."""
        return baselines.fifo(snapshot, now, config, self.clock)


@dataclass(frozen=True, slots=True)
class StaticQuotaPolicy:
    """Kueue-style nominal quotas (= guarantees) with borrowing up to the limit and reclaim."""

    clock: Clock = time.perf_counter
    name: ClassVar[str] = "static-quota"

    def schedule(self, snapshot: Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        """Run one static-quota cycle."""
        return baselines.static_quota(snapshot, now, config, self.clock)


@dataclass(frozen=True, slots=True)
class WeightedMaxMinPolicy:
    """Weighted max-min (DRF on one resource), blind to GPU class."""

    clock: Clock = time.perf_counter
    name: ClassVar[str] = "weighted-max-min"

    def schedule(self, snapshot: Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        """Run one weighted max-min cycle."""
        return baselines.weighted_max_min(snapshot, now, config, self.clock)


@dataclass(frozen=True, slots=True)
class GreedyHeteroPolicy:
    """Greedy heterogeneity-aware admission (Gavel's objective, no LP, no time-slicing): not Gavel itself."""

    clock: Clock = time.perf_counter
    name: ClassVar[str] = "greedy-hetero"

    def schedule(self, snapshot: Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        """Run one greedy heterogeneity-aware cycle."""
        return baselines.greedy_hetero(snapshot, now, config, self.clock)


@dataclass(frozen=True, slots=True)
class GavelPolicy:
    """Gavel's max-min fairness LP with its round-based mechanism (gavel.py beside this); `hierarchical` for §4.3.

    It reads true throughput from `rate` (an oracle, as Gavel's simulator does); the replay gives it one with
    `with_oracle`, which also starts a fresh round state. Without one it estimates from the snapshot
    (gavel.snapshot_rates: measured throughput, else the class speed prior)."""

    clock: Clock = time.perf_counter
    rate: gavel.Rate | None = None
    hierarchical: bool = False
    state: gavel.RoundState = field(default_factory=gavel.RoundState)

    @property
    def name(self) -> str:
        """`gavel` or `gavel-hierarchical`."""
        return "gavel-hierarchical" if self.hierarchical else "gavel"

    def with_oracle(self, rate: gavel.Rate) -> GavelPolicy:
        """This policy reading `rate`, with a fresh round state."""
        return GavelPolicy(self.clock, rate, self.hierarchical)

    def schedule(self, snapshot: Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        """Run one Gavel round."""
        rate = self.rate if self.rate is not None else gavel.snapshot_rates(snapshot)
        return gavel.schedule_round(snapshot, now, rate, self.state, self.hierarchical, self.clock)


POLICIES: dict[str, Policy] = {
    p.name: p for p in (MarketPolicy(), FifoPolicy(), StaticQuotaPolicy(), WeightedMaxMinPolicy(),
                        GreedyHeteroPolicy(), GavelPolicy(), GavelPolicy(hierarchical=True))
}
