"""The one scheduling loop: woken by watch events (debounced) or a timer, it plans a cycle and applies it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping

from fairshare.api import Phase, SpecError, TrainingJob, parse_training_job
from fairshare.control.actions import Action, PatchStatus
from fairshare.control.feedback import feedback_targets
from fairshare.control.isolation import KIND_NAMES, REASONS, SetAside
from fairshare.control.namespaces import DEFAULT_PROTECTED_NAMESPACES
from fairshare.control.parsecache import ParseCache
from fairshare.control.plan import CyclePlan, Scheduler, default_scheduler, plan_cycle
from fairshare.control.snapshot import World, build_world
from fairshare.control.store import TRAINING_JOBS, Store
from fairshare.control.transition import DEFAULT_LIFECYCLE, NODE_LOSS, LifecycleSettings
from fairshare.control.watchdog import CycleWatchdog
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, Migrate, Preempt, Resize
from fairshare.feedback.readings import Reading, Target
from fairshare.metrics import OperatorMetrics
from fairshare.render import RenderSettings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """How often the loop runs: at most once per `debounce_seconds` after events, and at least every `period`."""

    period_seconds: float = 10.0
    debounce_seconds: float = 0.2
    resync_every_cycles: int = 30  # a full LIST every this many periodic cycles, in case a watch event was lost
    protected_namespaces: frozenset[str] = DEFAULT_PROTECTED_NAMESPACES  # besides kube-*: no Tenant owns them


BackgroundApply = Callable[[tuple[Action, ...], threading.Event], object]  # apply until the event is set


@dataclasses.dataclass(frozen=True)
class BookkeepingLane:
    """A cycle's bookkeeping being applied in the background. Rule: it is not stopped before it has run as long as
    its cycle took to reach it (snapshot, plan, releases and grants), so that under a steady stream of events it
    still gets half of the time the loop spends on writes; what it has not started by then waits for the next
    cycle's plan, and the objects it left go first in the next batch that has them (k8s/applier.py)."""

    task: asyncio.Future[object]
    stop: threading.Event
    stop_at: float  # time.perf_counter() before which it is not stopped

    @classmethod
    def start(cls, apply: BackgroundApply, actions: tuple[Action, ...], cycle_seconds: float) -> BookkeepingLane:
        stop = threading.Event()
        task = asyncio.ensure_future(asyncio.to_thread(apply, actions, stop))
        return cls(task, stop, time.perf_counter() + cycle_seconds)


def failed(summary: object) -> bool:
    """True when an apply reported a conflict or error (an apply that reports nothing succeeded)."""
    return bool(getattr(summary, "conflicts", 0) or getattr(summary, "errors", 0))


class SchedulingLoop:
    """Runs cycles one at a time on a consistent snapshot of the store; handlers only call `poke`."""

    def __init__(self, store: Store, apply: Callable[[tuple[Action, ...]], object], metrics: OperatorMetrics,
                 policy: PolicyConfig, render: RenderSettings, settings: LoopSettings,
                 resync: Callable[[], None] | None = None, clock: Callable[[], float] = time.time,
                 readings: Callable[[], Mapping[str, Reading]] | None = None, warmup_seconds: float = 20.0,
                 scheduler: Scheduler = default_scheduler, lifecycle: LifecycleSettings = DEFAULT_LIFECYCLE,
                 watchdog: CycleWatchdog | None = None, background: BackgroundApply | None = None) -> None:
        self.store, self.apply, self.metrics = store, apply, metrics
        # Bookkeeping applied while the loop waits for the next cycle (see `run_cycle`); None: before the cycle ends.
        self.background = background
        self._lane: BookkeepingLane | None = None
        self.policy, self.render, self.settings = policy, render, settings
        self.resync, self.clock = resync, clock
        self.readings, self.warmup_seconds = readings, warmup_seconds
        self.scheduler = scheduler
        self.lifecycle = lifecycle
        self.watchdog = watchdog  # told of every completed cycle: liveness fails when they stop
        self.targets: list[Target] = []  # running jobs' trainers as of the last cycle, for the feedback collector
        self._wake = asyncio.Event()
        self.jobs_parsed: ParseCache[TrainingJob] = ParseCache(parse_training_job, SpecError)
        self._periodic = 0
        self.cycles = 0
        self.set_aside: dict[str, SetAside] = {}  # what the last cycle set aside, by `kind/key`: each logged once

    def poke(self) -> None:
        """Something changed: run a cycle soon (bursts of events coalesce into one)."""
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.settings.period_seconds)
                    trigger = "event"
                    await asyncio.sleep(self.settings.debounce_seconds)
                except TimeoutError:
                    trigger = "periodic"
                self._wake.clear()
                try:
                    await self.run_cycle(trigger)
                except asyncio.CancelledError:
                    raise
                except Exception:  # one bad cycle must not stop scheduling; the next one starts from the store again
                    self.metrics.errors.labels(operation="cycle").inc()
                    log.exception("scheduling cycle failed")
        finally:
            if self._lane is not None:
                self._lane.stop.set()  # a loop that stops (its term of leadership over) starts no more writes

    async def run_cycle(self, trigger: str) -> CyclePlan:
        """Snapshot, plan, then apply: releases, grants (unless a release failed), bookkeeping. With `background`,
        the bookkeeping goes out while the loop waits for the next cycle, which first stops it and waits for the
        writes in flight, so that it plans from a store that holds every write that was made (what was not started
        it plans afresh: each bookkeeping write is derived from the state again every cycle)."""
        start = time.perf_counter()
        await self.stop_bookkeeping()
        waited = time.perf_counter() - start
        if trigger == "periodic" and self.resync is not None:
            self._periodic += 1
            if self._periodic % self.settings.resync_every_cycles == 0:
                await asyncio.to_thread(self.resync)
        now = self.clock()
        start = time.perf_counter()
        # On the event loop: no handler can change the store meanwhile. Unchanged TrainingJobs are not re-parsed.
        world = build_world(self.store, now, self.jobs_parsed, self.settings.protected_namespaces)
        snapshot_seconds = time.perf_counter() - start
        readings = self.readings() if self.readings is not None else None
        plan = await asyncio.to_thread(plan_cycle, world, now, self.policy, self.render, self.scheduler,
                                       readings=readings, warmup_seconds=self.warmup_seconds,
                                       lifecycle=self.lifecycle)
        self.targets = feedback_targets(world)
        plan_seconds = time.perf_counter() - start - snapshot_seconds
        released = await asyncio.to_thread(self.apply, plan.releases)
        if failed(released):
            # Grants may count on GPUs a failed release still holds: leave them to the next cycle's fresh plan.
            self.metrics.errors.labels(operation="grants-deferred").inc()
            log.info("a release failed this cycle; deferring %d grant actions", len(plan.grants))
        else:
            await asyncio.to_thread(self.apply, plan.grants)
        if self.background is None:
            await asyncio.to_thread(self.apply, plan.bookkeeping)
        elif plan.bookkeeping:
            self._lane = BookkeepingLane.start(self.background, plan.bookkeeping, time.perf_counter() - start)
        apply_seconds = time.perf_counter() - start - snapshot_seconds - plan_seconds + waited
        self.cycles += 1
        if self.watchdog is not None:
            self.watchdog.cycle_completed()
        self._record(plan, trigger, world, {"snapshot": snapshot_seconds, "apply": apply_seconds})
        return plan

    async def stop_bookkeeping(self) -> None:
        """Stop the last cycle's bookkeeping, once it has had its time (BookkeepingLane), and wait for the writes
        it has in flight."""
        lane, self._lane = self._lane, None
        if lane is None:
            return
        await asyncio.wait([lane.task], timeout=max(0.0, lane.stop_at - time.perf_counter()))
        lane.stop.set()
        try:
            await lane.task
        except Exception:  # its writes' failures are the next cycle's to see in the store; the loop goes on
            self.metrics.errors.labels(operation="bookkeeping").inc()
            log.exception("applying a cycle's bookkeeping failed")

    def _report_set_aside(self, set_aside: Mapping[str, SetAside]) -> None:
        """Log each object set aside once (again only if its reason or message changes), and when it is back in use;
        count them all, every (kind, reason) pair exported so that a fixed object's series returns to 0."""
        for ref, entry in sorted(set_aside.items()):
            before = self.set_aside.get(ref)
            if before is None or (before.reason, before.message) != (entry.reason, entry.message):
                log.warning("set aside %s %s (%s): %s%s", KIND_NAMES.get(entry.kind, entry.kind), entry.key,
                            entry.reason, entry.message, f"\n{entry.trace}" if entry.trace else "")
        for ref in sorted(set(self.set_aside) - set(set_aside)):
            gone = self.set_aside[ref]
            log.info("%s %s is no longer set aside", KIND_NAMES.get(gone.kind, gone.kind), gone.key)
        self.set_aside = dict(set_aside)
        counts = {(kind, reason): 0 for kind in KIND_NAMES.values() for reason in REASONS}
        for entry in set_aside.values():
            pair = (KIND_NAMES.get(entry.kind, entry.kind), entry.reason)
            counts[pair] = counts.get(pair, 0) + 1
        self.metrics.set_per_label(self.metrics.set_aside, counts)

    def _record(self, plan: CyclePlan, trigger: str, world: World, io_seconds: dict[str, float]) -> None:
        m = self.metrics
        m.cycles.labels(trigger=trigger).inc()
        self._report_set_aside(plan.set_aside)
        m.observe_cycle_steps({**plan.result.step_seconds, **io_seconds})
        m.last_cycle.set(time.time())
        m.set_per_label(m.price, {(c,): p for c, p in plan.tallies.prices.items()})
        m.set_per_label(m.fair_share, {(t, c): v for t, shares in plan.tallies.fair_shares.items()
                                       for c, v in shares.items()})
        # The cycle's tallies, after its decisions: the same figures GPUClass and Tenant status got this cycle.
        tallies = plan.tallies
        m.set_per_label(m.pending_jobs, {(t,): n for t, n in tallies.pending.items()})
        m.set_per_label(m.running_jobs, {(t,): n for t, n in tallies.running.items()})
        m.set_per_label(m.capacity_gpus, {(c,): v for c, v in tallies.capacity.items()})
        m.set_per_label(m.allocated_gpus, {k: v for k, v in tallies.held.items()})
        m.set_per_label(m.foreign_gpus, {(c,): v for c, v in tallies.foreign.items()})
        m.set_per_label(m.idle_gpus, {(c,): tallies.idle(c) for c in tallies.capacity})
        throughput: dict[tuple[str, str], float] = {}
        for target in self.targets:
            view = world.jobs[target.job_key]
            sps = view.model.status.samples_per_second if view.model and view.model.status else None
            if sps and view.tenant:
                k = (view.tenant, target.gpu_class)
                throughput[k] = throughput.get(k, 0.0) + sps
        m.set_per_label(m.throughput, throughput)
        m.set_per_label(m.budget_remaining, {(t.metadata.name,): t.spec.budget.credits_per_period
                                             - ((t.status.spend_this_period or 0.0) if t.status else 0.0)
                                             for t in world.tenants.values() if t.spec.budget})
        m.set_per_label(m.decayed_usage, {(t.metadata.name,): (t.status.decayed_usage_gpu_hours or 0.0)
                                          if t.status else 0.0 for t in world.tenants.values()})
        for action in plan.actions:
            if not isinstance(action, PatchStatus) or action.kind != TRAINING_JOBS:
                continue
            view = world.jobs.get(action.key)
            owner = view.tenant if view and view.tenant else "unknown"
            if action.status.get("phase") in (Phase.SUCCEEDED.value, Phase.FAILED.value):
                m.completions.labels(tenant=owner, phase=action.status["phase"]).inc()
            credits = (action.status.get("cost") or {}).get("credits")
            if credits is not None and view is not None:
                cost = view.model.status.cost if view.model and view.model.status else None
                charged = credits - ((cost.credits or 0.0) if cost else 0.0)
                if charged > 0:
                    m.spend.labels(tenant=owner).inc(charged)
        m.set_per_label(m.guaranteed, {(t.name, c): g for t in world.snapshot.tenants for c, g in t.guaranteed.items()})
        m.set_per_label(m.share_ratio, {(t,): r for t, r in plan.tallies.share_ratios.items()})
        by_key = {j.key: j for j in world.snapshot.jobs}
        now = self.clock()
        for d in plan.result.decisions:
            view = world.jobs.get(d.job_key)
            tenant = view.tenant if view and view.tenant else "unknown"
            if isinstance(d, Admit):
                m.admissions.labels(tenant=tenant, gpu_class=d.gpu_class).inc()
                # From its latest entry to the queue: a requeued job's earlier waits and runs are not this wait.
                since = view.queued_since(now) if view else by_key[d.job_key].submitted_at
                m.queue_wait.labels(tenant=tenant).observe(max(0.0, now - since))
            elif isinstance(d, Preempt):
                job = by_key.get(d.job_key)
                gpu_class = job.allocation.gpu_class if job and job.allocation else ""
                m.preemptions.labels(tenant=tenant, gpu_class=gpu_class, cause=d.cause).inc()
            elif isinstance(d, Migrate):
                job = by_key.get(d.job_key)
                before = job.allocation.gpu_class if job and job.allocation else ""
                m.migrations.labels(tenant=tenant, from_class=before, to_class=d.gpu_class).inc()
            elif isinstance(d, Resize):
                job = by_key.get(d.job_key)
                grow = job is not None and job.allocation is not None and d.workers > job.allocation.workers
                m.resizes.labels(tenant=tenant, direction="grow" if grow else "shrink").inc()
        for key in sorted(plan.node_losses):  # gangs stopped by a lost node: preemptions not decided by the policy
            job = by_key.get(key)
            lost = world.jobs.get(key)
            m.preemptions.labels(tenant=lost.tenant if lost and lost.tenant else "unknown",
                                 gpu_class=job.allocation.gpu_class if job and job.allocation else "",
                                 cause=NODE_LOSS).inc()
