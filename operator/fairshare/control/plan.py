"""One scheduling cycle as a pure function, in order: the World in, the core's result and the actions to apply out.

Steps, in order: (1) lifecycle transitions read from pods and nodes (lifecycle.py), and jobs whose Tenant or GPUClass
is gone requeued (orphans.py); jobs that cannot be scheduled reported (job_status.py); (2) the core's decisions on
what is left, each as actions (job_status.py); (3) pods brought to what each status holds (reconcile.py,
children.py), cost accrual (accrual.py) and measured throughput (feedback.py); (4) the cycle's tallies, counted once
(tallies.py), and from them GPUClass and Tenant status (class_status.py, tenant_status.py); (5) what was set aside,
reported (set_aside.py). Actions on one object are applied in order, and stop at its first failure: an admission
whose conditional status write loses a race creates no pods.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from fairshare.control import cost, ledger
from fairshare.control.accrual import accrual_actions, charged_on_release
from fairshare.control.actions import Action, PatchStatus
from fairshare.control.children import missing_children_actions
from fairshare.control.class_status import gpu_class_status_actions
from fairshare.control.feedback import feedback_actions
from fairshare.control.foreign import displacing
from fairshare.control.isolation import SetAside, SetAsideLog, schedule_isolating
from fairshare.control.job_status import decision_actions, unschedulable_status
from fairshare.control.lifecycle import observe
from fairshare.control.orphans import orphan_transition
from fairshare.control.ownership import ForeignPod
from fairshare.control.queue import ration_refreshes
from fairshare.control.reconcile import lost_nodes, unwanted_pod_actions
from fairshare.control.set_aside import set_aside_actions
from fairshare.control.snapshot import World
from fairshare.control.store import GPU_CLASSES, TENANTS, TRAINING_JOBS
from fairshare.control.tallies import CycleTallies, tally
from fairshare.control.tenant_status import tenant_status_actions
from fairshare.control.transition import DEFAULT_LIFECYCLE, NODE_LOSS, LifecycleSettings
from fairshare.core import types as core
from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, CycleResult, Wait
from fairshare.feedback.readings import Reading
from fairshare.render import RenderSettings

Scheduler = Callable[[core.Snapshot, float, PolicyConfig], CycleResult]
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class CyclePlan:
    """What a cycle decided (the core's result) and what the Kubernetes layer must do about it, in three groups.

    - releases: lifecycle transitions, preemptions, shrinks and pods no status holds: everything that frees GPUs;
    - grants: admissions, grows and re-created children, which may count on those GPUs, so they are applied
      only if every release succeeded (a lost race on a preemption must not leave its beneficiary admitted
      onto GPUs the victim still holds);
    - bookkeeping: transitions that free no GPUs (Admitted -> Running), queue positions, failures of invalid
      jobs, cost, GPUClass and Tenant status. The Running writes of a burst's previous cycle come after its new
      admissions rather than before them.
    """

    result: CycleResult
    releases: tuple[Action, ...]
    grants: tuple[Action, ...]
    bookkeeping: tuple[Action, ...]
    transitioned: frozenset[str]
    tallies: CycleTallies  # counted once after the decisions: GPUClass and Tenant status and the metrics read them
    set_aside: Mapping[str, SetAside] = dataclasses.field(default_factory=dict)  # the World's, and the plan's own
    node_losses: frozenset[str] = frozenset()  # jobs stopped because a node under them was lost

    @property
    def actions(self) -> tuple[Action, ...]:
        return self.releases + self.grants + self.bookkeeping


def default_scheduler(snapshot: core.Snapshot, now: float, config: PolicyConfig) -> CycleResult:
    """The scheduling core (tests hand plan_cycle and the loop a scheduler told what to decide instead)."""
    return schedule(snapshot, now, config)


def plan_cycle(world: World, now: float, config: PolicyConfig, settings: RenderSettings,
               scheduler: Scheduler = default_scheduler, readings: Mapping[str, Reading] | None = None,
               warmup_seconds: float = 20.0, lifecycle: LifecycleSettings = DEFAULT_LIFECYCLE) -> CyclePlan:
    """Each step is taken one object at a time, or all at once with a fall-back to one at a time: a job, tenant or
    class on which a step raises is set aside (its GPUs stay held) and reported, and the cycle goes on."""
    releases: list[Action] = []
    grants: list[Action] = []
    bookkeeping: list[Action] = []
    transitioned: dict[str, bool] = {}
    keeping: dict[str, tuple[Action, ...]] = {}  # transitions that free no GPUs (Admitted -> Running): not urgent
    log = SetAsideLog()
    aside: dict[str, bool] = {}  # jobs set aside while planning: out of the core's snapshot, their GPUs held
    lost = dict(_isolated(log, TRAINING_JOBS, functools.partial(
        _lost_node_list, now=now, grace_seconds=lifecycle.node_lost_grace_seconds), world))
    displaced = dict(_isolated(log, TRAINING_JOBS, _displacing_list, world))
    node_losses: set[str] = set()
    for key, view in sorted(world.jobs.items()):
        transition = log.attempt(TRAINING_JOBS, key, observe, view, now, lifecycle, lost, displaced)
        if not log.holds(TRAINING_JOBS, key) and (transition is None or not transition.releases_gpus):
            # Finishing first: a finished job is not requeued.
            transition = log.attempt(TRAINING_JOBS, key, orphan_transition, view, world, now) or transition
        if log.holds(TRAINING_JOBS, key):
            aside[key] = True
        elif transition is not None:
            if transition.releases_gpus:
                releases += charged_on_release(transition.actions, view, world, now)
            else:
                keeping[key] = transition.actions
            transitioned[key] = transition.releases_gpus
            if transition.cause == NODE_LOSS:
                node_losses.add(key)
    for key, view in world.jobs.items():
        if key not in transitioned and key not in aside:  # a job failing this cycle (past its deadline) stays
            held_back = log.attempt(TRAINING_JOBS, key, unschedulable_status, view, now)
            bookkeeping += held_back or []
            if log.holds(TRAINING_JOBS, key):
                aside[key] = True
    # Jobs set aside leave the core's snapshot as releasing jobs do: their GPUs stay held.
    snapshot = without_jobs(world.snapshot, {**transitioned, **aside})

    result, snapshot = schedule_isolating(scheduler, snapshot, now, config, log)
    running = {j.key: j.allocation.workers for j in snapshot.jobs if j.allocation is not None}
    release_failed = False
    for decision in result.decisions:
        parts = log.attempt(TRAINING_JOBS, decision.job_key, decision_actions, decision, world, running, now, settings)
        if parts is None:
            release_failed |= not isinstance(decision, Admit | Wait)
            continue
        releases += parts[0]
        grants += parts[1]
        bookkeeping += parts[2]
    if release_failed:
        grants = []  # they may count on GPUs that a release (or a resize or move) which could not be written holds
    bookkeeping = ration_refreshes(bookkeeping)  # queue entries rewritten only because they moved: a few a cycle

    aside.update({e.key: True for e in log.entries.values() if e.kind == TRAINING_JOBS})
    decided = {d.job_key for d in result.decisions} | set(transitioned)
    # Pods no status holds (a cut-short cycle's deletions, a gang on a lost node, a deleted job's), deleted.
    releases += _isolated(log, TRAINING_JOBS, functools.partial(unwanted_pod_actions, skip=decided, lost=lost), world)
    grants += _isolated(log, TRAINING_JOBS, functools.partial(missing_children_actions, skip=decided | set(aside),
                                                              settings=settings), world)
    # Jobs set aside while they hold GPUs are still charged, at the price they last paid, and counted as held:
    # breaking one's own job (a worker pod it cannot read) must not make it run for free.
    in_core = {j.key for j in snapshot.jobs}
    held_aside = tuple(j for j in world.snapshot.jobs
                       if j.key in aside and j.key not in in_core and j.allocation is not None)
    if held_aside:
        snapshot = dataclasses.replace(snapshot, jobs=snapshot.jobs + held_aside)
        result = dataclasses.replace(result, charges={**result.charges, **{
            j.key: cost.last_price(world.jobs[j.key]) for j in held_aside if j.key in world.jobs}})
    # A transition that frees no GPUs waits until the grants are out, unless the core decided about the same job
    # this cycle: then it goes first, so that the decision's writes come after it (no later write undoes them).
    by_core = {d.job_key for d in result.decisions}
    releases = [a for key, actions in keeping.items() if key in by_core for a in actions] + releases
    bookkeeping = [a for key, actions in keeping.items() if key not in by_core for a in actions] + bookkeeping
    bookkeeping += _isolated(log, TRAINING_JOBS, functools.partial(accrual_actions, charges=result.charges, now=now,
                                                                   skip=decided), world)
    if readings:
        bookkeeping += _isolated(log, TRAINING_JOBS, functools.partial(
            feedback_actions, readings=readings, alpha=config.throughput_smoothing, warmup_seconds=warmup_seconds,
            skip=decided), world)
    tallies = tally(world, snapshot, result)
    # A GPUClass or Tenant set aside while planning gets no status but its Ready False (set_aside_actions).
    in_use = dataclasses.replace(world, gpu_classes={k: c for k, c in world.gpu_classes.items()
                                                     if not log.holds(GPU_CLASSES, k)})
    bookkeeping += _isolated(log, GPU_CLASSES, functools.partial(gpu_class_status_actions, tallies=tallies, now=now),
                              in_use)
    in_use = dataclasses.replace(world, tenants={k: t for k, t in world.tenants.items() if not log.holds(TENANTS, k)})
    # Only the charges that will be written: a job being deleted gets none, so its Tenant's entry keeps its last.
    planned = ledger.planned_costs(without_writes_to_deleted_jobs(releases + grants + bookkeeping, world))
    bookkeeping += _isolated(log, TENANTS, functools.partial(tenant_status_actions, snapshot=snapshot, tallies=tallies,
                                                             now=now,
                                                             half_life_hours=config.half_life_hours, planned=planned),
                              in_use)
    set_aside = {**world.set_aside, **log.entries}
    bookkeeping += set_aside_actions(world, set_aside, now)
    return CyclePlan(result=result, releases=without_writes_to_deleted_jobs(releases, world),
                     grants=without_writes_to_deleted_jobs(grants, world),
                     bookkeeping=without_writes_to_deleted_jobs(bookkeeping, world),
                     transitioned=frozenset(transitioned), set_aside=set_aside, node_losses=frozenset(node_losses),
                     tallies=tallies)


def _lost_node_list(world: World, now: float, grace_seconds: float) -> list[tuple[str, str]]:
    """reconcile.lost_nodes as (node, why) pairs, so that _isolated can take it one job at a time."""
    return sorted(lost_nodes(world, now, grace_seconds).items())


def _displacing_list(world: World) -> list[tuple[str, tuple[ForeignPod, ...]]]:
    """foreign.displacing as (node, pods) pairs, so that _isolated can take it one job at a time."""
    return sorted(displacing(world).items())


def _isolated(log: SetAsideLog, kind: str, step: Callable[[World], list[T]], world: World) -> list[T]:
    """step(world) over every object of `kind` at once; should it raise, over one object at a time, setting aside
    each object it raises on (the others' results are kept)."""
    try:
        return step(world)
    except Exception:
        pass
    out: list[T] = []
    for key, alone in _one_at_a_time(world, kind):
        out += log.attempt(kind, key, step, alone) or []
    return out


def _one_at_a_time(world: World, kind: str) -> Iterator[tuple[str, World]]:
    """The world reduced to each one object of `kind` in turn (the other kinds unchanged). For TrainingJobs, the
    pods of each deleted job (World.orphans) come alone too, after the jobs, so that nothing is done twice."""
    if kind == TRAINING_JOBS:
        for key, view in sorted(world.jobs.items()):
            yield key, dataclasses.replace(world, jobs={key: view}, orphans={})
        for key, pods in sorted(world.orphans.items()):
            yield key, dataclasses.replace(world, jobs={}, orphans={key: pods})
    elif kind == GPU_CLASSES:
        for key, gpu_class in sorted(world.gpu_classes.items()):
            yield key, dataclasses.replace(world, gpu_classes={key: gpu_class})
    else:
        for key, tenant in sorted(world.tenants.items()):
            yield key, dataclasses.replace(world, tenants={key: tenant})


def without_jobs(snapshot: core.Snapshot, transitioned: Mapping[str, bool]) -> core.Snapshot:
    """Drop jobs that release their GPUs this cycle (their GPUs stay held until their pods are gone); a job that
    keeps its GPUs (Admitted -> Running) stays, or its tenant would look as if it held nothing."""
    leaving = {key for key, releases in transitioned.items() if releases}
    if not leaving:
        return snapshot
    held: dict[str, int] = {}
    for job in snapshot.jobs:
        if job.key in leaving and job.allocation is not None:
            for node in job.allocation.nodes:
                held[node] = held.get(node, 0) + job.gpus_per_worker
    nodes = tuple(dataclasses.replace(n, gpus=max(0, n.gpus - held.get(n.name, 0))) for n in snapshot.nodes)
    jobs = tuple(j for j in snapshot.jobs if j.key not in leaving)
    return dataclasses.replace(snapshot, jobs=jobs, nodes=nodes)


def without_writes_to_deleted_jobs(actions: Sequence[Action], world: World) -> tuple[Action, ...]:
    """Rule: a TrainingJob being deleted (metadata.deletionTimestamp set) gets no further status writes (queue
    position, failure, charges): each would be one more PATCH the API server must serve for an object on its way out,
    and a burst of deletions would otherwise cost as many. Its pods are still deleted."""
    return tuple(a for a in actions if not (isinstance(a, PatchStatus) and a.kind == TRAINING_JOBS
                                            and (view := world.jobs.get(a.key)) is not None and view.deleting))
