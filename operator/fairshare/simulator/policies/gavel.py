"""Gavel's heterogeneity-aware max-min fairness (Narayanan et al., OSDI'20), as a simulator baseline.

Written from the paper, not from Gavel's code:

- **Allocation (§3.1, §4.1).** X[m, j] is the fraction of time job m should spend on accelerator type j. The
  policy maximises min over jobs of (1/w_m) · throughput(m, X) / throughput(m, X_equal), where throughput(m, X) =
  Σ_j T[m, j] X[m, j] is the effective throughput (space sharing off: one job per accelerator) and X_equal gives
  every job the same time on each type, in proportion to the type's capacity. Subject to Σ_j X[m, j] ≤ 1,
  Σ_m g_m X[m, j] ≤ capacity_j (g_m the job's GPUs, a gang), 0 ≤ X ≤ 1 and X[m, j] = 0 where the job cannot run.
  One linear program, solved with scipy's HiGHS; recomputed only when the set of active jobs changes (as Gavel
  recomputes on arrivals and completions).
- **Hierarchical (§4.3).** With `hierarchical`, job weights come from tenant weights: each active job of tenant
  t gets w_t / n_t (n_t its active jobs), so tenants are held to weighted max-min shares of normalised
  throughput and jobs share their tenant's equally. (The paper's full water-filling over entities also
  redistributes what a tenant cannot use; this one-level reduction is what the same LP can express.)
- **Round-based mechanism (§5).** Each round, every (job, type) pair gets the priority X[m, j] / f[m, j], f the
  fraction of the job's rounds since it arrived that it ran on that type (a pair never run has infinite
  priority); pairs are taken in decreasing priority, ties by larger X then by arrival, and a job is
  placed on the type if it is not placed yet and its whole gang fits there. Jobs not placed this round are
  preempted, jobs placed on another type than they hold move: every job is time-sliced at round boundaries.

Throughput comes from an oracle (`Rate`: job key, class, GPUs -> samples/s), as in Gavel's simulator, not from
measurements. The round state (rounds received) lives in the policy object between cycles of one replay.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from fairshare.core.decisions import Admit, CycleResult, Decision, Migrate, Preempt, PreemptCause, Wait
from fairshare.core.types import Job, JobPhase, Snapshot

Rate = Callable[[str, str, int], float]
_TINY = 1e-9


@dataclass(frozen=True, slots=True)
class LPJob:
    """One active job as the LP sees it: its key, GPUs (gang size), weight and throughput per class."""

    key: str
    gpus: int
    weight: float
    rates: tuple[float, ...]


def max_min_allocation(jobs: Sequence[LPJob], capacity: Sequence[int]) -> np.ndarray:
    """The max-min fair allocation X (jobs x classes) of normalised effective throughput (module docstring)."""
    # scipy is the simulator's: imported here, the operator (which imports the core) never loads it.
    from scipy import sparse  # type: ignore[import-untyped, unused-ignore]
    from scipy.optimize import linprog  # type: ignore[import-untyped, unused-ignore]

    n, k = len(jobs), len(capacity)
    if n == 0 or k == 0:
        return np.zeros((n, k))
    rates = np.array([j.rates for j in jobs], dtype=float)
    share = np.asarray(capacity, dtype=float) / max(1.0, float(sum(capacity)))
    equal = rates @ share
    # A gang bigger than a class's capacity never runs there, whatever its throughput.
    runnable = (rates > 0) & (np.array([j.gpus for j in jobs], dtype=float)[:, None] <= np.asarray(capacity)[None, :])
    if not runnable.any():
        return np.zeros((n, k))
    scale = np.where(equal[:, None] > 0, rates / np.maximum(equal, _TINY)[:, None], 0.0)
    weights = np.array([max(j.weight, _TINY) for j in jobs])
    coef = scale / weights[:, None]
    nv = n * k + 1  # x[m, j] row-major, then t
    cells = np.arange(n * k)
    job_of, type_of = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    live = np.flatnonzero(runnable.any(axis=1))  # a job that can run nowhere does not hold t down
    # t - sum_j coef[m, j] x[m, j] <= 0 for each live job; sum_j x[m, j] <= 1; sum_m g_m x[m, j] <= capacity_j
    fair = sparse.hstack([sparse.csr_matrix((-coef.ravel(), (job_of, cells)), shape=(n, n * k))[live],
                          sparse.csr_matrix(np.ones((len(live), 1)))])
    time = sparse.csr_matrix((np.ones(n * k), (job_of, cells)), shape=(n, nv))
    gpus = np.repeat(np.array([j.gpus for j in jobs], dtype=float), k)
    room = sparse.csr_matrix((gpus, (type_of, cells)), shape=(k, nv))
    a = sparse.vstack([fair, time, room]).tocsr()
    b = np.concatenate([np.zeros(len(live)), np.ones(n), np.asarray(capacity, dtype=float)])
    bounds = np.zeros((nv, 2))
    bounds[:-1, 1] = np.where(runnable, 1.0, 0.0).ravel()
    bounds[-1, 1] = np.inf
    objective = np.zeros(nv)
    objective[-1] = -1.0
    # A vertex (HiGHS's simplex). The max-min optimum is rarely unique; Gavel solves with ECOS, an interior-point
    # method, which spreads the slack over more jobs. Measured on the first 1,500 measured-size Philly jobs (real
    # Gavel 90.5 h): the vertex gives 94.8 h, an interior point (HiGHS IPM without crossover) 98.2 h
    # (docs/simulator.md).
    result = linprog(objective, A_ub=a, b_ub=b, bounds=bounds, method="highs")
    if result.status != 0 or result.x is None:
        raise RuntimeError(f"Gavel max-min LP failed: {result.message}")
    x: np.ndarray = np.clip(np.asarray(result.x[:-1], dtype=float).reshape(n, k), 0.0, 1.0)
    return x


def job_weights(jobs: Sequence[Job], tenant_weight: Mapping[str, float], hierarchical: bool) -> dict[str, float]:
    """Each job's max-min weight: 1 for every job, or (hierarchical) its tenant's weight over the tenant's jobs."""
    if not hierarchical:
        return {j.key: 1.0 for j in jobs}
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.tenant] = counts.get(j.tenant, 0) + 1
    return {j.key: tenant_weight.get(j.tenant, 1.0) / counts[j.tenant] for j in jobs}


def priority(x: float, rounds_on_type: int, rounds_since_arrival: int) -> float:
    """Gavel's round priority: the time share the allocation gives the pair over the share it received (§5)."""
    if x <= _TINY:
        return 0.0
    if rounds_on_type == 0 or rounds_since_arrival == 0:
        return math.inf
    return x / (rounds_on_type / rounds_since_arrival)


def snapshot_rates(snapshot: Snapshot) -> Rate:
    """Throughput without an oracle, from what the snapshot knows: a job's measured samples/s on (class, workers)
    scaled by GPUs; else its best measurement on another class scaled by the classes' speed priors; else the
    class's speed prior times the GPUs."""
    speed = {c.name: c.relative_speed for c in snapshot.classes}
    gpw = {j.key: j.gpus_per_worker for j in snapshot.jobs}
    measured: dict[str, dict[str, float]] = {}
    for t in snapshot.throughputs:
        per_gpu = t.samples_per_second / max(1, t.workers * gpw.get(t.job_key, 1))
        measured.setdefault(t.job_key, {})[t.gpu_class] = per_gpu

    def rate(job_key: str, gpu_class: str, gpus: int) -> float:
        mine = measured.get(job_key)
        if not mine:
            return speed.get(gpu_class, 1.0) * gpus
        if gpu_class in mine:
            return mine[gpu_class] * gpus
        return max(v / speed.get(c, 1.0) for c, v in mine.items()) * speed.get(gpu_class, 1.0) * gpus

    return rate


@dataclass
class RoundState:
    """What the mechanism remembers between rounds: the allocation and its job set; per job, the rounds since it
    arrived and the rounds it ran on each type."""

    jobs: tuple[str, ...] = ()
    allocation: dict[str, dict[str, float]] = field(default_factory=dict)
    elapsed: dict[str, int] = field(default_factory=dict)
    received: dict[str, dict[str, int]] = field(default_factory=dict)
    last_now: float = -math.inf
    lp_seconds: float = 0.0
    solves: int = 0


@dataclass
class _Free:
    """Free GPUs per node of one class, for gang placement in a round."""

    nodes: dict[str, int]

    def keep(self, gpus_per_worker: int, nodes: Sequence[str]) -> tuple[str, ...] | None:
        """The gang's own nodes, if all of them are still free for it this round."""
        free = dict(self.nodes)
        for node in nodes:
            if free.get(node, 0) < gpus_per_worker:
                return None
            free[node] -= gpus_per_worker
        self.nodes = free
        return tuple(nodes)

    def place(self, gpus_per_worker: int, workers: int) -> tuple[str, ...] | None:
        """A new gang: fullest nodes first (best fit), so that large gangs keep finding room."""
        chosen: list[str] = []
        free = dict(self.nodes)
        for node in sorted(free, key=lambda n: (free[n], n)):
            while len(chosen) < workers and free[node] >= gpus_per_worker:
                free[node] -= gpus_per_worker
                chosen.append(node)
        if len(chosen) < workers:
            return None
        self.nodes = free
        return tuple(chosen)


def schedule_round(snapshot: Snapshot, now: float, rate: Rate, state: RoundState, hierarchical: bool,
                   clock: Callable[[], float]) -> CycleResult:
    """One round: (re)solve the allocation if the job set changed, then place jobs by priority (module docstring)."""
    if now < state.last_now:  # a new replay with the same policy object
        state.__init__()  # type: ignore[misc]
    state.last_now = now
    classes = [c.name for c in snapshot.classes]
    prices = {c.name: c.price_per_gpu_hour for c in snapshot.classes}
    capacity = {c: 0 for c in classes}
    nodes_of: dict[str, dict[str, int]] = {c: {} for c in classes}
    for node in snapshot.nodes:
        if node.gpu_class in capacity and node.schedulable:
            capacity[node.gpu_class] += node.gpus
            nodes_of[node.gpu_class][node.name] = node.gpus
    active = [j for j in snapshot.jobs if j.phase is not JobPhase.TERMINAL]
    keys = tuple(sorted(j.key for j in active))
    began = clock()
    if keys != state.jobs:
        tenant_weight = {t.name: t.weight for t in snapshot.tenants}
        weights = job_weights(active, tenant_weight, hierarchical)
        lp_jobs = [LPJob(j.key, j.min_workers * j.gpus_per_worker, weights[j.key],
                         tuple(rate(j.key, c, j.min_workers * j.gpus_per_worker) if j.accepts(c) else 0.0
                               for c in classes)) for j in active]
        x = max_min_allocation(lp_jobs, [capacity[c] for c in classes])
        state.allocation = {j.key: dict(zip(classes, map(float, x[i]), strict=True)) for i, j in enumerate(lp_jobs)}
        state.jobs = keys
        state.received = {k: state.received.get(k, {}) for k in keys}
        state.elapsed = {k: state.elapsed.get(k, 0) for k in keys}
        state.solves += 1
    lp_s = clock() - began
    state.lp_seconds += lp_s
    by_key = {j.key: j for j in active}
    pairs = []
    for key, row in state.allocation.items():
        for c, x_mj in row.items():
            p = priority(x_mj, state.received[key].get(c, 0), state.elapsed[key])
            if p > 0:
                pairs.append((-p, -x_mj, by_key[key].submitted_at, key, c))
    pairs.sort()
    free = {c: _Free(dict(n)) for c, n in nodes_of.items()}
    placed: dict[str, tuple[str, tuple[str, ...]]] = {}
    for _, _, _, key, c in pairs:
        job = by_key[key]
        if key in placed:
            continue
        held = job.allocation if job.phase is JobPhase.RUNNING else None
        if held is not None and held.gpu_class == c:
            got = free[c].keep(job.gpus_per_worker, held.nodes)  # the lease goes on, on the nodes it holds
        else:
            got = free[c].place(job.gpus_per_worker, held.workers if held is not None else job.min_workers)
        if got is not None:
            placed[key] = (c, got)
    for key in state.elapsed:
        state.elapsed[key] += 1
    for key, (c, _) in placed.items():
        state.received[key][c] = state.received[key].get(c, 0) + 1
    decisions = _decisions(active, placed, prices, state)
    charges = {k: prices[c] for k, (c, _) in placed.items()}
    shares: dict[str, dict[str, float]] = {t.name: {c: 0.0 for c in classes} for t in snapshot.tenants}
    for j in active:
        row = state.allocation.get(j.key, {})
        share = shares.setdefault(j.tenant, {c: 0.0 for c in classes})
        for c, x_mj in row.items():
            share[c] += x_mj * j.min_workers * j.gpus_per_worker
    return CycleResult(
        decisions=decisions,
        prices=MappingProxyType(prices),
        fair_shares=MappingProxyType({t: MappingProxyType(s) for t, s in shares.items()}),
        step_seconds=MappingProxyType({"allocation": lp_s, "placement": clock() - began - lp_s}),
        charges=MappingProxyType(charges),
        # Every round re-decides who runs: the next round is due whenever a job is active.
        wake_at=now if active else math.inf,
    )


def _decisions(active: Sequence[Job], placed: Mapping[str, tuple[str, tuple[str, ...]]],
               prices: Mapping[str, float], state: RoundState) -> tuple[Decision, ...]:
    """Preemptions, then moves, then admissions (moves first: an admission may take GPUs a moving job leaves),
    then waits, numbered per tenant in key order."""
    preempt: list[Decision] = []
    move: list[Decision] = []
    admit: list[Decision] = []
    wait: list[Decision] = []
    positions: dict[str, int] = {}
    for job in sorted(active, key=lambda j: j.key):
        got = placed.get(job.key)
        held = job.allocation if job.phase is JobPhase.RUNNING else None
        if got is None:
            owed = sum(state.allocation.get(job.key, {}).values())
            why = (f"Gavel round: not placed this round (its allocation is {owed:.2f} of the time; it ran "
                   f"{sum(state.received.get(job.key, {}).values())} of its {state.elapsed.get(job.key, 0)} rounds)")
            if held is not None:
                preempt.append(Preempt(job.key, why, PreemptCause.FAIR_SHARE))
            else:
                ahead = positions.get(job.tenant, 0)  # jobs of its tenant ahead of it: 0 = next
                positions[job.tenant] = ahead + 1
                wait.append(Wait(job.key, why, ahead, "WaitingForCapacity"))
            continue
        c, nodes = got
        if held is None:
            admit.append(Admit(job.key, c, len(nodes), nodes, prices[c]))
        elif held.gpu_class != c:
            move.append(Migrate(job.key, c, len(nodes), nodes, prices[c],
                                f"Gavel round: its allocation gives it {state.allocation[job.key][c]:.2f} of "
                                f"the time on {c}"))
    return (*preempt, *move, *admit, *wait)
