"""A lower bound on the average job completion time any schedule can reach on a cluster: a time-indexed LP relaxation,
certified by a dual solution checked against every column of the full problem.

The relaxation (any schedule of fixed-size gangs, preemptive, space-sharing off, each job on one class at a time, is
feasible for it): time is cut into intervals of `interval_s`; `x[j,c,t]` is the time job j runs on class c in
interval t. Per job and interval the times add up to at most the part of the interval after its arrival; per class
and interval the GPU-seconds to at most capacity × length; each job's work fractions `rate/work × x` add up to one.
Job j's completion C_j is bounded twice:

- **busy time:** `C_j >= a_j + sum x[j,·,·]` (it ran that long after arriving);
- **mean busy time:** `C_j >= sum_t f[j,t] * max(start_t, a_j) + P_j / 2`, where f[j,t] is the fraction of its work
  done in interval t and P_j its run time alone on its fastest class. (With F(t) the fraction done by t, the
  work-weighted mean time M = C - integral of F, and F rises at most at 1/P_j, so the integral is at least P_j/2.)

Only columns near each job's arrival are put in the LP that is solved (its "window"); what makes the result a bound
is `certify`: from the solver's duals it builds a dual-feasible point of the *whole* problem (every job, class and
interval up to `horizon`, where each job's remaining columns are shown to be priced out for good), whose objective is
then a lower bound by weak duality, whatever the window and the solver's tolerances. Columns it had to pay for are
added to the windows and the LP solved again (column generation) until the certified bound stops rising.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class BoundJob:
    """What the bound needs of a job: arrival (s), gang size (GPUs), work (samples), samples/s per class (0: cannot)."""

    arrival_s: float
    gpus: int
    work: float
    rates: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class BoundResult:
    """The certified lower bound on average JCT (s) and how it was reached."""

    average_jct_s: float          # certified: no schedule on this cluster does better
    lp_average_jct_s: float       # the last restricted LP's own optimum (an upper bound on the relaxation)
    floor_s: float                # every job alone on its fastest class from arrival
    rounds: int
    columns: int
    history: tuple[float, ...]    # the certified bound after each round


def fastest_runtime(job: BoundJob) -> float:
    """A job's run time alone on its fastest class (the per-job floor, P_j)."""
    best = max(job.rates)
    return job.work / best if best > 0 else math.inf


def floor_average_jct_s(jobs: Sequence[BoundJob]) -> float:
    """Average JCT if every job ran on its fastest class from arrival, with no capacity limit."""
    return sum(fastest_runtime(j) for j in jobs) / len(jobs)


@dataclasses.dataclass
class _Grid:
    start: float
    interval: float
    count: int

    def index(self, time: float) -> int:
        return int((time - self.start) // self.interval)


class _Problem:
    """The relaxation's data as arrays: rho[j,c] = rate/work (fraction per second), P_j, arrivals, gangs."""

    def __init__(self, jobs: Sequence[BoundJob], capacity: Sequence[float], interval_s: float,
                 horizon_s: float | None) -> None:
        self.n = len(jobs)
        self.capacity = np.asarray(capacity, dtype=float)
        self.arrival = np.array([j.arrival_s for j in jobs], dtype=float)
        self.gpus = np.array([j.gpus for j in jobs], dtype=float)
        self.rho = np.array([[r / j.work if j.work > 0 else 0.0 for r in j.rates] for j in jobs], dtype=float)
        self.fastest = np.array([fastest_runtime(j) for j in jobs])
        slowest = np.array([j.work / min(r for r in j.rates if r > 0) for j in jobs])
        start = float(self.arrival.min())
        # Past the grid capacity is priced at 0 (certify), so the horizon changes how tight the bound is, never
        # whether it holds.
        work = float((self.gpus * self.fastest).sum()) / float(self.capacity.sum())
        end = horizon_s if horizon_s is not None else (float((self.arrival + slowest).max()) + 2.0 * work
                                                       + 4.0 * interval_s)
        self.grid = _Grid(start, interval_s, max(1, math.ceil((end - start) / interval_s)))
        self.first = np.array([self.grid.index(a) for a in self.arrival])

    def available(self, j: int, t: np.ndarray) -> np.ndarray:
        """Seconds of interval t after job j's arrival."""
        starts = self.grid.start + self.grid.interval * t
        return np.clip(starts + self.grid.interval - np.maximum(starts, self.arrival[j]), 0.0, None)

    def earliest(self, j: int, t: np.ndarray) -> np.ndarray:
        """The earliest time job j can work in interval t."""
        return np.maximum(self.grid.start + self.grid.interval * t, self.arrival[j])


def _window_lengths(problem: _Problem, slack: float) -> np.ndarray:
    """Initial window per job: its fastest run time times `slack`, plus a day, in intervals."""
    lengths = np.ceil((problem.fastest * slack + 86_400.0) / problem.grid.interval).astype(int) + 1
    return np.minimum(lengths, problem.grid.count - problem.first)


def _solve(problem: _Problem, windows: np.ndarray):  # noqa: ANN202 - scipy's result object
    """The restricted LP over each job's window; returns scipy's result and how many per-job-interval rows lead
    its inequality rows (capacity rows follow them, class-major, then the mean-busy-time rows)."""
    from scipy.optimize import linprog  # type: ignore[import-untyped, unused-ignore]
    from scipy.sparse import coo_matrix  # type: ignore[import-untyped, unused-ignore]

    n, classes, grid = problem.n, len(problem.capacity), problem.grid
    col_job, col_class, col_t = [], [], []
    for j in range(n):
        ts = np.arange(problem.first[j], problem.first[j] + windows[j])
        for c in range(classes):
            if problem.rho[j, c] > 0:
                col_job.append(np.full(len(ts), j))
                col_class.append(np.full(len(ts), c))
                col_t.append(ts)
    job, cls, t = (np.concatenate(a) for a in (col_job, col_class, col_t))
    nx = len(job)
    rho = problem.rho[job, cls]
    earliest = np.maximum(grid.start + grid.interval * t, problem.arrival[job])
    # A rows: one per (job, interval) in its window, numbered job-major.
    a_offset = np.concatenate([[0], np.cumsum(windows)[:-1]])
    a_row = a_offset[job] + (t - problem.first[job])
    a_rows = int(windows.sum())
    b_row = a_rows + cls * grid.count + t
    m_row = a_rows + classes * grid.count + job
    d_row = m_row + n
    ub_rows = a_rows + classes * grid.count + 2 * n
    xs = np.arange(nx)
    rows = np.concatenate([a_row, b_row, m_row, d_row, ub_rows - 2 * n + np.arange(n), ub_rows - n + np.arange(n)])
    cols = np.concatenate([xs, xs, xs, xs, nx + np.arange(n), nx + np.arange(n)])
    vals = np.concatenate([np.ones(nx), problem.gpus[job], rho * earliest, np.ones(nx), -np.ones(n), -np.ones(n)])
    a_ub = coo_matrix((vals, (rows, cols)), shape=(ub_rows, nx + 2 * n)).tocsr()  # the slacks' columns: empty
    a_job = np.repeat(np.arange(n), windows)
    a_t = np.concatenate([np.arange(problem.first[j], problem.first[j] + windows[j]) for j in range(n)])
    a_starts = grid.start + grid.interval * a_t
    b_ub = np.concatenate([
        np.clip(a_starts + grid.interval - np.maximum(a_starts, problem.arrival[a_job]), 0.0, None),
        np.repeat(problem.capacity, grid.count) * grid.interval,
        -problem.fastest / 2.0,
        -problem.arrival,
    ])
    a_eq = coo_matrix((np.concatenate([rho, np.ones(n)]),
                       (np.concatenate([job, np.arange(n)]), np.concatenate([xs, nx + n + np.arange(n)]))),
                      shape=(n, nx + 2 * n)).tocsr()
    penalty = 10.0 * grid.interval * grid.count / n  # unfinished work in the window: costlier than any real schedule
    objective = np.concatenate([np.zeros(nx), np.full(n, 1.0 / n), np.full(n, penalty)])
    # x >= 0; C free; the slack s_j >= 0 (its column only in the eq row and the objective).
    bounds = [(0, None)] * nx + [(None, None)] * n + [(0, None)] * n
    result = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(n), bounds=bounds, method="highs")
    if result.status != 0:
        raise RuntimeError(f"the restricted LP did not solve: {result.message}")
    return result, a_rows


def certify(problem: _Problem, beta: np.ndarray, omega: np.ndarray, mu: np.ndarray) -> tuple[float, np.ndarray]:
    """A dual-feasible point of the whole relaxation from (possibly inexact) duals, and its objective: the bound.

    beta[c,t] >= 0 prices capacity, omega[j] a job's work, mu[j] in [0, 1/n] its mean-busy-time row (the busy-time
    row gets 1/n - mu[j], as the free C_j column requires). Every column x[j,c,t] then needs
    alpha[j,t] >= rho*omega - g*beta - rho*earliest*mu - delta; alpha is set to exactly that (or 0), and its cost
    (times the interval's available seconds) is taken off. Beyond the grid beta is 0, and what alpha needs there
    falls linearly with time where mu > 0 (summed in closed form); for a job with mu = 0 it would not fall, so its
    omega is lowered until none is needed there (omega is free; the bound pays the difference). Returns the bound
    on the *average* JCT (s) and per job the last interval that needed alpha (or -1; the grid's last when the need
    goes past it).
    """
    n, grid = problem.n, problem.grid
    mu = np.clip(mu, 0.0, 1.0 / n)
    delta = 1.0 / n - mu
    beta = np.clip(beta, 0.0, None)
    total = float(omega.sum() + (mu * problem.fastest / 2.0).sum() + (delta * problem.arrival).sum())
    # (omega_j enters the objective once, with coefficient 1: lowering it by x costs exactly x.)
    total -= float((beta.sum(axis=1) * problem.capacity).sum() * grid.interval)
    last_needing = np.full(n, -1)
    end = grid.start + grid.interval * grid.count
    for j in range(n):
        # Past the grid capacity is priced at 0, so alpha needs max_c rho*(omega - mu*earliest) - delta there:
        # highest at the grid's end, then falling by rho*mu*interval a step (the fastest class's rho, where positive).
        rho_max = problem.rho[j].max()
        omega_j = float(omega[j])
        first_past = rho_max * (omega_j - mu[j] * end) - delta[j]
        if first_past > 0 and mu[j] <= 0:
            # It would be needed for ever: lower omega_j instead (any omega is dual-feasible), at that cost.
            lowered = first_past / rho_max
            omega_j -= lowered
            total -= lowered
            first_past = 0.0
            if lowered > 1e-6:
                last_needing[j] = grid.count - 1
        elif first_past > 0:
            last_needing[j] = grid.count - 1
            fall = rho_max * mu[j] * grid.interval
            steps = math.ceil(first_past / fall)
            total -= (steps * first_past - fall * steps * (steps - 1) / 2.0) * grid.interval
        t = np.arange(problem.first[j], grid.count)
        avail = problem.available(j, t)
        earliest = problem.earliest(j, t)
        need = np.zeros(len(t))
        for c in np.nonzero(problem.rho[j] > 0)[0]:
            rho = problem.rho[j, c]
            need = np.maximum(need, rho * omega_j - problem.gpus[j] * beta[c, t] - rho * earliest * mu[j] - delta[j])
        total -= float((need * avail).sum())
        positive = np.nonzero(need * avail > 1e-6)[0]
        if len(positive) and last_needing[j] < 0:
            last_needing[j] = int(t[positive[-1]])
    return total - float(problem.arrival.sum()) / n, last_needing


def lower_bound(jobs: Sequence[BoundJob], capacity: Sequence[float], interval_s: float = 3600.0,
                window_slack: float = 2.0, max_rounds: int = 6, horizon_s: float | None = None,
                tolerance_s: float = 60.0) -> BoundResult:
    """Certified lower bound on the average JCT of `jobs` on classes of `capacity` GPUs (same order as rates)."""
    if not jobs:
        raise ValueError("no jobs")
    problem = _Problem(jobs, capacity, interval_s, horizon_s)
    windows = _window_lengths(problem, window_slack)
    history: list[float] = []
    best, lp_value, rounds = -math.inf, math.inf, 0
    classes = len(problem.capacity)
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - reported
        result, a_rows = _solve(problem, windows)
        n, count = problem.n, problem.grid.count
        marg_ub = -np.asarray(result.ineqlin.marginals)
        beta = marg_ub[a_rows:a_rows + classes * count].reshape(classes, count)
        mu = marg_ub[a_rows + classes * count:a_rows + classes * count + n]
        omega = np.asarray(result.eqlin.marginals)
        lp_value = float(result.fun) - float(problem.arrival.sum()) / n
        bound, violations = certify(problem, beta, omega, mu)
        history.append(bound)
        best = max(best, bound)
        grow = violations >= problem.first + windows
        if lp_value - best <= tolerance_s or not grow.any():
            break
        windows = np.where(grow, np.minimum(violations - problem.first + 1 + windows // 2,
                                            count - problem.first), windows)
    return BoundResult(best, lp_value, floor_average_jct_s(jobs), rounds,
                       int(sum(windows[j] * int((problem.rho[j] > 0).sum()) for j in range(problem.n))),
                       tuple(history))
