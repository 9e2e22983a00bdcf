"""Gavel's heterogeneity-aware max-min fairness (Narayanan et al., OSDI'20), as a simulator baseline.

Written from the paper; where the paper leaves a choice open, the choice Gavel's simulator makes (read, not
copied: stanford-futuredata/gavel @ c4fa400, scheduler.py and policies/max_min_fairness.py), as the reference
results were measured with it:

- **Allocation (§3.1, §4.1).** X[m, j] is the fraction of time job m should spend on accelerator type j. The
  policy maximises min over jobs of (s_m / w_m) · throughput(m, X) / throughput(m, X_iso), where
  throughput(m, X) = Σ_j T[m, j] X[m, j] is the effective throughput (space sharing off: one job per
  accelerator), s_m the job's GPUs (a gang) and X_iso the heterogeneity-agnostic allocation (the same max-min
  with every throughput 1, so every job gets the same GPU-time, spread over the types). Subject to
  Σ_j X[m, j] ≤ 1, Σ_m s_m X[m, j] ≤ capacity_j, 0 ≤ X ≤ 1 and X[m, j] = 0 where the job cannot run. Two linear
  programs, solved with scipy's HiGHS.
- **Hierarchical (§4.3).** With `hierarchical`, job weights come from tenant weights: each active job of tenant
  t gets w_t / n_t (n_t its active jobs), so tenants are held to weighted max-min shares of normalised
  throughput and jobs share their tenant's equally. (The paper's full water-filling over entities also
  redistributes what a tenant cannot use; this one-level reduction is what the same LP can express.)
- **When the allocation changes.** Only at a reset: when the set of active jobs changed and at least
  `RESET_INTERVAL_S` passed since the last reset. A job that arrived since has no allocation until then (it may
  still take GPUs no allocated job wants this round, below).
- **Round-based mechanism (§5).** Each round, every (job, type) pair gets the priority X[m, j] / f[m, j], f the
  job's share of the time all jobs ran on that type since the last reset (every job starts each reset with half
  a round on every type); no allocation on the type is priority 0. Per type, fastest type first, jobs are taken
  in decreasing (priority, deficit, allocation), ties by arrival; the deficit is the time the allocations owed a
  pair over past resets minus the time it ran. A job is placed on the type if it is not placed yet and its gang
  fits in what is left of the type this round, priority 0 included, so no GPU idles while a job that can use it
  waits. Jobs not placed are preempted, jobs placed on another type move: every job is time-sliced at round
  boundaries.

Throughput comes from an oracle (`Rate`: job key, class, GPUs -> samples/s), as in Gavel's simulator, not from
measurements. The round state lives in the policy object between cycles of one replay.
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
_FIRST = 1e9  # Gavel's priority for an allocated pair with no time received: x · 1e9, so that 2p > p still holds
RESET_INTERVAL_S = 1920.0  # Gavel's minimum time between allocation resets (its simulator's default)


@dataclass(frozen=True, slots=True)
class LPJob:
    """One active job as the LP sees it: its key, GPUs (gang size), weight and throughput per class."""

    key: str
    gpus: int
    weight: float
    rates: tuple[float, ...]


def _max_min_lp(coef: np.ndarray, gpus: np.ndarray, runnable: np.ndarray, capacity: Sequence[int],
                central: bool) -> np.ndarray:
    """max t s.t. t ≤ Σ_j coef[m, j] x[m, j] (jobs that can run somewhere), Σ_j x[m, j] ≤ 1,
    Σ_m gpus_m x[m, j] ≤ capacity_j, 0 ≤ x ≤ runnable; `central`: an interior point (no crossover), else a vertex."""
    # scipy is the simulator's: imported here, the operator (which imports the core) never loads it.
    import warnings

    from scipy import sparse  # type: ignore[import-untyped, unused-ignore]
    from scipy.optimize import linprog  # type: ignore[import-untyped, unused-ignore]

    n, k = coef.shape
    nv = n * k + 1  # x[m, j] row-major, then t
    cells = np.arange(n * k)
    job_of, type_of = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    live = np.flatnonzero(runnable.any(axis=1))  # a job that can run nowhere does not hold t down
    fair = sparse.hstack([sparse.csr_matrix((-coef.ravel(), (job_of, cells)), shape=(n, n * k))[live],
                          sparse.csr_matrix(np.ones((len(live), 1)))])
    time = sparse.csr_matrix((np.ones(n * k), (job_of, cells)), shape=(n, nv))
    room = sparse.csr_matrix((np.repeat(gpus, k), (type_of, cells)), shape=(k, nv))
    a = sparse.vstack([fair, time, room]).tocsr()
    b = np.concatenate([np.zeros(len(live)), np.ones(n), np.asarray(capacity, dtype=float)])
    bounds = np.zeros((nv, 2))
    bounds[:-1, 1] = np.where(runnable, 1.0, 0.0).ravel()
    bounds[-1, 1] = np.inf
    objective = np.zeros(nv)
    objective[-1] = -1.0
    result = None
    if central:
        with warnings.catch_warnings():  # scipy warns that it hands run_crossover to HiGHS verbatim, as wanted
            warnings.simplefilter("ignore")
            result = linprog(objective, A_ub=a, b_ub=b, bounds=bounds, method="highs-ipm",
                             options={"run_crossover": "off"})
    if result is None or result.status != 0 or result.x is None:
        # Without crossover IPM can stop short of proving optimality; simplex then settles it (a vertex).
        result = linprog(objective, A_ub=a, b_ub=b, bounds=bounds, method="highs")
    if result.status != 0 or result.x is None:
        raise RuntimeError(f"Gavel max-min LP failed: {result.message}")
    x: np.ndarray = np.clip(np.asarray(result.x[:-1], dtype=float).reshape(n, k), 0.0, 1.0)
    return x


def _runnable(jobs: Sequence[LPJob], capacity: Sequence[int]) -> np.ndarray:
    """Where each job can run: a positive throughput, and a gang no bigger than the class."""
    rates = np.array([j.rates for j in jobs], dtype=float).reshape(len(jobs), len(capacity))
    gpus = np.array([j.gpus for j in jobs], dtype=float)
    runnable: np.ndarray = (rates > 0) & (gpus[:, None] <= np.asarray(capacity)[None, :])
    return runnable


def isolated_allocation(jobs: Sequence[LPJob], capacity: Sequence[int]) -> np.ndarray:
    """X_iso: max-min of GPU-time with every throughput 1 and no weights, each job's time spread over the types
    as an interior point spreads it (Gavel's ECOS): the optimum is far from unique."""
    n, k = len(jobs), len(capacity)
    runnable = _runnable(jobs, capacity)
    if n == 0 or k == 0 or not runnable.any():
        return np.zeros((n, k))
    gpus = np.array([j.gpus for j in jobs], dtype=float)
    return _max_min_lp(np.where(runnable, gpus[:, None], 0.0), gpus, runnable, capacity, central=True)


def normalised_throughput(jobs: Sequence[LPJob], x: np.ndarray, isolated: np.ndarray) -> np.ndarray:
    """What the LP equalises, per job: (s_m / w_m) · throughput(m, x) / throughput(m, X_iso)."""
    if len(jobs) == 0:
        return np.zeros(0)
    rates = np.array([j.rates for j in jobs], dtype=float)
    per_weight = np.array([j.gpus / max(j.weight, _TINY) for j in jobs])
    alone = np.sum(rates * isolated, axis=1)
    out: np.ndarray = np.where(alone > 0, per_weight * np.sum(rates * x, axis=1) / np.maximum(alone, _TINY), 0.0)
    return out


def max_min_allocation(jobs: Sequence[LPJob], capacity: Sequence[int]) -> np.ndarray:
    """The allocation X (jobs x classes) that maximises the least normalised throughput (module docstring).

    X_iso carries no weights: Gavel's code also weights the isolated allocation, which squares the weights; all
    its reference runs have weight 1, where the two agree."""
    n, k = len(jobs), len(capacity)
    runnable = _runnable(jobs, capacity)
    if n == 0 or k == 0 or not runnable.any():
        return np.zeros((n, k))
    rates = np.array([j.rates for j in jobs], dtype=float)
    gpus = np.array([j.gpus for j in jobs], dtype=float)
    per_weight = np.array([j.gpus / max(j.weight, _TINY) for j in jobs])[:, None]
    alone = np.sum(rates * isolated_allocation(jobs, capacity), axis=1)[:, None]
    coef = np.where(runnable & (alone > 0), rates * per_weight / np.maximum(alone, _TINY), 0.0)
    # The allocation is a vertex (HiGHS's simplex); docs/simulator.md says what an interior point gives.
    return _max_min_lp(coef, gpus, runnable, capacity, central=False)


def job_weights(jobs: Sequence[Job], tenant_weight: Mapping[str, float], hierarchical: bool) -> dict[str, float]:
    """Each job's max-min weight: 1 for every job, or (hierarchical) its tenant's weight over the tenant's jobs."""
    if not hierarchical:
        return {j.key: 1.0 for j in jobs}
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.tenant] = counts.get(j.tenant, 0) + 1
    return {j.key: tenant_weight.get(j.tenant, 1.0) / counts[j.tenant] for j in jobs}


def priority(x: float, job_seconds: float, type_seconds: float) -> float:
    """Gavel's round priority: the pair's allocation over the share of the type's time the job received since
    the last reset (§5); no allocation is 0, an allocation with no time received yet is first (x · 1e9)."""
    if x <= 0.0:
        return 0.0
    if job_seconds <= 0.0 or type_seconds <= 0.0:
        return x * _FIRST
    return x / (job_seconds / type_seconds)


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
    """What the mechanism remembers between rounds: the allocation and the job set it was solved for; since the
    last reset, the seconds each job ran on each type (half a round to start) and all jobs' on each type; per
    pair, the deficit of past resets; the last round's placements."""

    jobs: tuple[str, ...] = ()
    allocation: dict[str, dict[str, float]] = field(default_factory=dict)
    job_seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    type_seconds: dict[str, float] = field(default_factory=dict)
    deficit: dict[str, dict[str, float]] = field(default_factory=dict)
    placed: dict[str, str] = field(default_factory=dict)
    last_reset: float | None = None
    last_now: float = -math.inf
    lp_seconds: float = 0.0
    solves: int = 0


def _credit_last_round(state: RoundState, now: float, active: set[str]) -> None:
    """The jobs of the last round ran on their type until now (a round is the time between cycles)."""
    ran = now - state.last_now if state.last_now > -math.inf else 0.0
    for key, c in state.placed.items():
        if key in active and ran > 0:
            mine = state.job_seconds.setdefault(key, {})
            mine[c] = mine.get(c, 0.0) + ran
            state.type_seconds[c] = state.type_seconds.get(c, 0.0) + ran


def _reset(state: RoundState, now: float, active: Sequence[str], classes: Sequence[str], half_round: float) -> None:
    """A reset: each pair's deficit grows by the time its allocation owed it since the last reset minus the time
    it ran; every job starts again from half a round on every type."""
    since = now - state.last_reset if state.last_reset is not None else 0.0
    state.type_seconds = {c: 0.0 for c in classes}
    seconds: dict[str, dict[str, float]] = {}
    for key in active:
        owed = state.allocation.get(key, {})
        ran = state.job_seconds.get(key, {})
        mine = state.deficit.setdefault(key, {})
        for c in classes:
            mine[c] = mine.get(c, 0.0) + owed.get(c, 0.0) * since - (ran.get(c, half_round) - half_round)
            state.type_seconds[c] += half_round
        seconds[key] = {c: half_round for c in classes}
    state.job_seconds = seconds
    state.deficit = {k: state.deficit[k] for k in active}
    state.last_reset = now


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
                   clock: Callable[[], float], round_s: float = 360.0) -> CycleResult:
    """One round: reset and re-solve the allocation when due, then place jobs by priority (module docstring)."""
    if now < state.last_now:  # a new replay with the same policy object
        state.__init__()  # type: ignore[misc]
    speed = {c.name: c.relative_speed for c in snapshot.classes}
    classes = sorted(speed, key=lambda c: (-speed[c], c))  # Gavel fills the fastest type first
    prices = {c.name: c.price_per_gpu_hour for c in snapshot.classes}
    capacity = {c: 0 for c in classes}
    nodes_of: dict[str, dict[str, int]] = {c: {} for c in classes}
    for node in snapshot.nodes:
        if node.gpu_class in capacity and node.schedulable:
            capacity[node.gpu_class] += node.gpus
            nodes_of[node.gpu_class][node.name] = node.gpus
    active = sorted((j for j in snapshot.jobs if j.phase is not JobPhase.TERMINAL),
                    key=lambda j: (j.submitted_at, j.key))
    keys = tuple(sorted(j.key for j in active))
    live = set(keys)
    _credit_last_round(state, now, live)
    state.last_now = now
    for j in active:  # a new job starts with half a round on every type, but no allocation until the next reset
        if j.key not in state.job_seconds:
            state.job_seconds[j.key] = {c: round_s / 2 for c in classes}
    began = clock()
    due = state.last_reset is None or now - state.last_reset >= RESET_INTERVAL_S
    if keys != state.jobs and due:
        _reset(state, now, [j.key for j in active], classes, round_s / 2)
        tenant_weight = {t.name: t.weight for t in snapshot.tenants}
        weights = job_weights(active, tenant_weight, hierarchical)
        lp_jobs = [LPJob(j.key, j.min_workers * j.gpus_per_worker, weights[j.key],
                         tuple(rate(j.key, c, j.min_workers * j.gpus_per_worker) if j.accepts(c) else 0.0
                               for c in classes)) for j in active]
        x = max_min_allocation(lp_jobs, [capacity[c] for c in classes])
        state.allocation = {j.key: dict(zip(classes, map(float, x[i]), strict=True)) for i, j in enumerate(lp_jobs)}
        state.jobs = keys
        state.solves += 1
    lp_s = clock() - began
    state.lp_seconds += lp_s
    placed = _place(active, classes, nodes_of, rate, state)
    state.placed = {k: c for k, (c, _) in placed.items()}
    decisions = _decisions(active, placed, prices, state, now)
    charges = {k: prices[c] for k, (c, _) in placed.items()}
    shares: dict[str, dict[str, float]] = {t.name: {c: 0.0 for c in classes} for t in snapshot.tenants}
    for j in active:
        row = state.allocation.get(j.key, {})
        share = shares.setdefault(j.tenant, {c: 0.0 for c in classes})
        for c, x_mj in row.items():
            share[c] = share.get(c, 0.0) + x_mj * j.min_workers * j.gpus_per_worker
    return CycleResult(
        decisions=decisions,
        prices=MappingProxyType(prices),
        fair_shares=MappingProxyType({t: MappingProxyType(s) for t, s in shares.items()}),
        step_seconds=MappingProxyType({"allocation": lp_s, "placement": clock() - began - lp_s}),
        charges=MappingProxyType(charges),
        # Every round re-decides who runs: the next round is due whenever a job is active.
        wake_at=now if active else math.inf,
    )


def _place(active: Sequence[Job], classes: Sequence[str], nodes_of: Mapping[str, Mapping[str, int]], rate: Rate,
           state: RoundState) -> dict[str, tuple[str, tuple[str, ...]]]:
    """This round's placements: per type in the given order, jobs by decreasing (priority, deficit, allocation),
    ties by arrival (`active` is in arrival order); a job takes the type if not placed yet and its gang fits."""
    free = {c: _Free(dict(n)) for c, n in nodes_of.items()}
    left = {c: sum(n.values()) for c, n in nodes_of.items()}
    placed: dict[str, tuple[str, tuple[str, ...]]] = {}
    for job in active:  # a job that may not be preempted keeps its GPUs, whatever the round says
        held = job.allocation if job.phase is JobPhase.RUNNING else None
        if held is not None and not job.preemptible and held.gpu_class in free:
            got = free[held.gpu_class].keep(job.gpus_per_worker, held.nodes)
            placed[job.key] = (held.gpu_class, got if got is not None else tuple(held.nodes))
            left[held.gpu_class] -= held.workers * job.gpus_per_worker
    for c in classes:
        entries = []
        for job in active:
            x_mj = state.allocation.get(job.key, {}).get(c, 0.0) if job.key in state.allocation else 0.0
            p = priority(x_mj, state.job_seconds.get(job.key, {}).get(c, 0.0), state.type_seconds.get(c, 0.0))
            entries.append((p, state.deficit.get(job.key, {}).get(c, 0.0), x_mj, job))
        entries.sort(key=lambda e: (e[0], e[1], e[2]), reverse=True)  # stable: ties stay in arrival order
        for _, _, _, job in entries:
            if left[c] <= 0:
                break
            held = job.allocation if job.phase is JobPhase.RUNNING else None
            gpus = (held.workers if held is not None else job.min_workers) * job.gpus_per_worker
            if job.key in placed or gpus > left[c] or not job.accepts(c) or rate(job.key, c, gpus) <= 0:
                continue
            if held is not None and held.gpu_class == c:
                # The lease goes on, on the nodes it holds (elsewhere on its own type it would have to restart).
                got = free[c].keep(job.gpus_per_worker, held.nodes)
            else:
                got = free[c].place(job.gpus_per_worker, held.workers if held is not None else job.min_workers)
            if got is not None:
                placed[job.key] = (c, got)
                left[c] -= gpus
    return placed


def _next_reset(state: RoundState, now: float) -> float:
    """Seconds until the allocation may next be re-solved."""
    return max(0.0, (state.last_reset if state.last_reset is not None else now) + RESET_INTERVAL_S - now)


def _decisions(active: Sequence[Job], placed: Mapping[str, tuple[str, tuple[str, ...]]],
               prices: Mapping[str, float], state: RoundState, now: float) -> tuple[Decision, ...]:
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
            ran = sum(state.job_seconds.get(job.key, {}).values())
            why = (f"Gavel round: not placed this round (its allocation is {owed:.2f} of the time; "
                   f"{ran / 3600:.2f} h on all types since the last reset, counting half a round on each)"
                   if job.key in state.allocation else
                   f"Gavel round: not placed this round (no allocation until the next reset, at least "
                   f"{_next_reset(state, now):.0f} s away; until then it takes only GPUs no allocated job takes)")
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
                                f"Gavel round: its allocation gives it "
                                f"{state.allocation.get(job.key, {}).get(c, 0.0):.2f} of the time on {c}"))
    return (*preempt, *move, *admit, *wait)
