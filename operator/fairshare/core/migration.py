"""Step 8: move running jobs between classes when their measured throughput says it pays (Gavel's lever).

Only measured jobs move, only after their minimum run time, and only onto capacity nobody pending took this
cycle. Two moves exist:
- upgrade: a job moves to a class with room where its estimated throughput is at least `migration_gain` times
  what it measures now (a job placed on a slow class because the fast one was full, once the fast one frees);
- swap: two jobs of the same gang shape trade places when the product of their speed-ups is at least
  `migration_gain` and neither slows by more than that factor (each job's throughput is compared with its own,
  so jobs of different models are weighed alike). A job measured on both classes carries that evidence: one
  that gains nothing from a fast class hands it to one that does.
A move restarts the gang from its checkpoint on the new nodes (a new allocation generation, as a resize).
"""

from __future__ import annotations

from collections.abc import Mapping

from fairshare.core import explain
from fairshare.core.cycle import ClassState, Cycle, RunState
from fairshare.core.decisions import Migrate
from fairshare.core.rules import within_guarantee, within_limit
from fairshare.core.throughput import Curves, estimate, interpolate
from fairshare.core.types import GPUClass


def measured_now(run: RunState, curves: Curves | None) -> float | None:
    """The job's measured throughput at its current class and size, or None when not measured there."""
    curve = (curves or {}).get(run.cls.name)
    workers = len(run.nodes)
    if not curve or all(w != workers for w, _ in curve):
        return None
    return interpolate(curve, workers)


def movable(cycle: Cycle, run: RunState) -> bool:
    """Running within its tenant's share, untouched this cycle, past its minimum run time, measured where it is."""
    alloc = run.job.allocation
    return (alloc is not None and not run.opportunistic and run.preempted is None and run.resized is None
            and run.migrated is None and bool(run.nodes) and -1 not in run.nodes
            and cycle.now - alloc.started_at >= cycle.config.min_run_seconds
            and measured_now(run, cycle.curves.get(run.job.key)) is not None)


def may_hold(run: RunState, cs: ClassState, price: float) -> bool:
    """The job's tenant may hold its gang on `cs` too: bid, budget, borrowing limit and guarantee rules."""
    job, ts = run.job, run.tenant
    bid = job.max_price_per_gpu_hour
    return (job.accepts(cs.name) and (bid is None or bid + 1e-9 >= price) and not ts.tenant.budget_exhausted
            and within_limit(ts, cs, run.gpus) and (job.preemptible or within_guarantee(ts, cs, run.gpus)))


def _speedup(cycle: Cycle, run: RunState, cs: ClassState, classes: Mapping[str, GPUClass]) -> float:
    curves = cycle.curves.get(run.job.key)
    now = measured_now(run, curves)
    assert now is not None
    return estimate(curves, cs.gpu_class, len(run.nodes), classes) / now if now > 0 else 0.0


def _move(run: RunState, to: ClassState, nodes: list[int], reason: str) -> None:
    ts, gpus = run.tenant, run.gpus
    ts.used[run.cls.name] = ts.used.get(run.cls.name, 0) - gpus
    ts.used[to.name] = ts.used.get(to.name, 0) + gpus
    ts.spend += gpus * (to.price - run.cls.price)
    names = tuple(to.pool.names[i] for i in nodes)
    run.migrated = Migrate(run.job.key, to.name, len(nodes), names, to.price, reason)
    run.cls, run.nodes = to, nodes
    run.charged = run.gpus


def upgrade_jobs(cycle: Cycle, classes: Mapping[str, GPUClass], gain: float,
                 candidates: list[RunState] | None = None) -> None:
    """Each measured job, largest expected speed-up first, moves to the class with room where it gains most.
    `candidates`: the running jobs that were movable before this step's swaps (default: all running jobs)."""
    options: list[tuple[float, str, RunState, ClassState]] = []
    if not any(cs.pool.total_free for cs in cycle.classes.values()):
        return
    for run in cycle.running if candidates is None else candidates:
        if run.migrated is not None or (candidates is None and not movable(cycle, run)):
            continue
        for cs in cycle.classes.values():
            if cs is run.cls or not cs.pool.total_free:
                continue
            speedup = _speedup(cycle, run, cs, classes)
            if speedup >= gain:
                options.append((-speedup, run.job.key, run, cs))
    for neg, _, run, cs in sorted(options, key=lambda o: (o[0], o[1], o[3].name)):
        if run.migrated is not None or not may_hold(run, cs, cs.price):
            continue
        nodes: list[int] = []
        for _ in range(len(run.nodes)):
            i = cs.pool.best_fit(run.gpw)
            if i is None:
                break
            cs.pool.take(i, run.gpw)
            nodes.append(i)
        if len(nodes) < len(run.nodes):
            for i in nodes:
                cs.pool.release(i, run.gpw)
            continue
        # The old nodes stay busy until the old pods are gone: they are not handed out this cycle.
        _move(run, cs, nodes, explain.upgrade(run.cls.name, cs.name, -neg))


def _swap_candidates(cycle: Cycle, classes: Mapping[str, GPUClass], gain: float, runs: list[RunState],
                     out: list[tuple[float, str, str, RunState, RunState]]) -> None:
    """Every pair of `runs` (one gang shape) on different classes that both gain: product of speed-ups at least
    `gain`, neither slower by more than that. Each job's speed-up towards the other class is computed once, and
    the partners of a job are scanned fastest first, so only pairs that qualify (and one more) are looked at."""
    order = {id(r): i for i, r in enumerate(runs)}
    by_class: dict[str, list[RunState]] = {}
    for r in runs:
        by_class.setdefault(r.cls.name, []).append(r)
    names = sorted(by_class)
    least = 1.0 / gain
    for x, first_name in enumerate(names):
        for second_name in names[x + 1:]:
            here, there = by_class[first_name], by_class[second_name]
            to_there = [(_speedup(cycle, a, there[0].cls, classes), a) for a in here]
            to_here = sorted(((_speedup(cycle, b, here[0].cls, classes), b) for b in there),
                             key=lambda sb: -sb[0])
            for s_a, a in to_there:
                if s_a < least:
                    continue
                for s_b, b in to_here:
                    if s_a * s_b < gain:
                        break
                    if s_b < least:
                        continue
                    # Report each pair as the scan in job order would: the earlier job of the two first.
                    if order[id(a)] < order[id(b)]:
                        out.append((-s_a * s_b, a.job.key, b.job.key, a, b))
                    else:
                        out.append((-s_b * s_a, b.job.key, a.job.key, b, a))


def swap_jobs(cycle: Cycle, classes: Mapping[str, GPUClass], gain: float,
              movable_runs: list[RunState] | None = None) -> None:
    """Pairs of measured jobs with the same gang shape on different classes trade nodes when both sides win.
    `movable_runs`: the movable running jobs, in cycle order (default: found here)."""
    shapes: dict[tuple[int, int], list[RunState]] = {}
    for run in cycle.running if movable_runs is None else movable_runs:
        if movable_runs is not None or movable(cycle, run):
            shapes.setdefault((len(run.nodes), run.gpw), []).append(run)
    candidates: list[tuple[float, str, str, RunState, RunState]] = []
    for runs in shapes.values():
        _swap_candidates(cycle, classes, gain, runs, candidates)
    for neg, _, _, a, b in sorted(candidates, key=lambda c: (c[0], c[1], c[2])):
        if a.migrated is not None or b.migrated is not None:
            continue
        a_cls, b_cls, a_nodes, b_nodes = a.cls, b.cls, list(a.nodes), list(b.nodes)
        # Check each side's rules as if the other had already left its class.
        a.tenant.used[a_cls.name] -= a.gpus
        b.tenant.used[b_cls.name] -= b.gpus
        allowed = may_hold(a, b_cls, b_cls.price) and may_hold(b, a_cls, a_cls.price)
        a.tenant.used[a_cls.name] += a.gpus
        b.tenant.used[b_cls.name] += b.gpus
        if not allowed:
            continue
        _move(a, b_cls, b_nodes, explain.swap(a_cls.name, b_cls.name, b.job.key, -neg))
        _move(b, a_cls, a_nodes, explain.swap(b_cls.name, a_cls.name, a.job.key, -neg))


def migrate_running_jobs(cycle: Cycle) -> None:
    """Step 8: swaps first (they need no free GPUs), then upgrades onto free GPUs."""
    gain = cycle.config.migration_gain
    if gain <= 0 or not cycle.curves:
        return
    classes = {name: cs.gpu_class for name, cs in cycle.classes.items()}
    # Whether a job may move is settled before the first move: a swap changes only its two jobs, which are then
    # `migrated` and no longer movable.
    candidates = [run for run in cycle.running if movable(cycle, run)]
    if not candidates:
        return
    swap_jobs(cycle, classes, gain, movable_runs=candidates)
    upgrade_jobs(cycle, classes, gain, candidates)
