"""The scheduling core's output: decisions as data (Admit, Resize, Migrate, Preempt, Wait) and the cycle's result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final


def _empty() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Admit:
    """Start a pending job as a whole gang: one node name per worker, charged `price_per_gpu_hour` per GPU.

    `opportunistic` marks a job admitted onto idle capacity beyond its tenant's share (over budget, over
    share or bid under the price): it pays the floor price and is the first to yield when the owner returns.
    The operator stores the flag in the job's Allocation so the next cycle knows.
    """

    job_key: str
    gpu_class: str
    workers: int
    nodes: tuple[str, ...]
    price_per_gpu_hour: float
    opportunistic: bool = False
    # Set when the admission took GPUs from others (e.g. fair-sharing preemption): who, and why that was fair.
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Resize:
    """Change a running elastic job's size; `nodes` is the complete new node list, one per worker.

    Growing keeps the existing workers' nodes as a prefix; shrinking drops workers from the end.
    """

    job_key: str
    workers: int
    nodes: tuple[str, ...]
    price_per_gpu_hour: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Migrate:
    """Move a running job to another class: it checkpoints, and restarts at the same size on `nodes` of `gpu_class`
    (a new allocation generation), because its measured throughput says it gains there (see core/migration.py)."""

    job_key: str
    gpu_class: str
    workers: int
    nodes: tuple[str, ...]
    price_per_gpu_hour: float
    reason: str = ""


class PreemptCause:
    """Why a job is preempted, as the `cause` label of the preemption metrics."""

    GUARANTEE: Final = "guarantee"  # another tenant reclaims its guarantee
    FAIR_SHARE: Final = "fair-share"  # a tenant below its fair share takes from one above it
    IDLE_YIELD: Final = "idle-yield"  # a job on idle capacity gives it back to work within a share
    SERVICE: Final = "service"  # a job of the same tenant with less attained service takes its place
    ALL: Final = (GUARANTEE, FAIR_SHARE, IDLE_YIELD, SERVICE)


@dataclass(frozen=True, slots=True)
class Preempt:
    """Stop a running job (it checkpoints on SIGTERM and requeues), with the reason, the numbers behind it and the
    cause (PreemptCause)."""

    job_key: str
    reason: str
    cause: str = PreemptCause.GUARANTEE


@dataclass(frozen=True, slots=True)
class Wait:
    """Keep a pending job queued; `position` counts the jobs of its tenant ahead of it (0 = next to be considered),
    and `code` is a stable CamelCase name of what holds it back (cycle.WAIT_CODES), for columns, alerts and
    scripts: required, so no wait goes out without one."""

    job_key: str
    reason: str
    position: int
    code: str


Decision = Admit | Resize | Migrate | Preempt | Wait


@dataclass(frozen=True, slots=True)
class CycleResult:
    """Everything one cycle decided, plus the numbers behind it.

    - decisions: preemptions, then shrinks, admissions, grows, migrations (each sorted by job key), then waits
      by tenant and position; apply in this order.
    - prices: class -> current price per GPU-hour (never below the floor).
    - fair_shares: tenant -> class -> GPUs its entitlement buys at those prices (before rounding to gangs).
    - step_seconds: step name -> seconds, measured with the injected clock.
    - budgets: tenant -> entitlement in credits per hour (the market budget).
    - charges: job -> price per GPU-hour it pays from now on, for every job holding GPUs after the cycle.
    - share_ratios: tenant -> its share ratio after the cycle: credits per hour its full-price holdings cost at
      this cycle's prices, over its entitlement (`budgets`); 1.0 is exactly its fair share. The number every wait
      and preemption reason quotes, and the one Tenant status and the metrics report.
    - wake_at: when the policy can next decide something new without an event (arrival, completion, new
      measurement, budget period): at or before the cycle's own time, at the next cycle (it freed GPUs it did not
      hand out); later, when time alone opens a rule (a gang passing its minimum run time or a service band);
      inf, only after an event; None, the policy does not say.
    """

    decisions: tuple[Decision, ...]
    prices: Mapping[str, float]
    fair_shares: Mapping[str, Mapping[str, float]]
    step_seconds: Mapping[str, float]
    budgets: Mapping[str, float] = field(default_factory=_empty)
    charges: Mapping[str, float] = field(default_factory=_empty)
    share_ratios: Mapping[str, float] = field(default_factory=_empty)
    wake_at: float | None = None

    def by_kind(self, kind: type) -> tuple[Decision, ...]:
        """The decisions of one kind, in result order."""
        return tuple(d for d in self.decisions if isinstance(d, kind))

    def for_job(self, job_key: str) -> Decision | None:
        """The decision about one job, or None when the cycle left it alone."""
        for d in self.decisions:
            if d.job_key == job_key:
                return d
        return None
