"""The event-driven replay: arrivals, phase changes, completions and scheduling cycles in simulated time.

Events at one instant are handled in this order: job progress events (phase boundaries, completions), then
arrivals, then the scheduling cycle. A cycle is due every `tick_s` (and, with `schedule_on_events`, right after
an arrival or completion); its decisions apply at once: preemptions, then resizes, then admissions. Running jobs
report their throughput just before each cycle. A due tick runs a cycle only when something changed since the last
one: an arrival, a completion, throughput drift, a report on a (class, size) the job can compare with one it was
measured on before, a budget period boundary, or the wake time the policy gave with its last result
(CycleResult.wake_at: at once after it freed GPUs, or when a gang's age or attained service opens one of its
rules). A policy that gives none gets the older rules instead: a running job passing the policy's minimum run time
and, while some job waits, a last cycle that decided anything (its decisions may have opened room). Otherwise the
tick is skipped, up to `max_quiet_ticks` in a row while some job waits, so that a policy that reacts to time alone
(usage decay) is still asked at least every (max_quiet_ticks + 1) ticks; with nobody waiting, quiet ticks are
skipped without limit (admissions and preemptions are for waiting jobs; moves follow arrivals, completions and
timers).
"""

from __future__ import annotations

import dataclasses
import gc
import heapq
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from fairshare.simulator import core_adapter as adapter
from fairshare.simulator.cluster import ClusterSpec, relative_speeds
from fairshare.simulator.fairness import tenant_slice
from fairshare.simulator.feedback import MeasuredThroughput
from fairshare.simulator.holdings import Holdings
from fairshare.simulator.jobstate import JobState
from fairshare.simulator.progress import ProgressBar
from fairshare.simulator.rates import OracleRates
from fairshare.simulator.results import JobOutcome, RunResult
from fairshare.simulator.tenants import TenantSpec
from fairshare.simulator.workload import Workload

JOB_EVENT, ARRIVAL, TICK = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """How the replay runs. `checkpoint_every_s` 0 means jobs checkpoint on SIGTERM and lose no work."""

    tick_s: float = 360.0
    restart_s: float = 30.0
    checkpoint_every_s: float = 0.0
    measurement_noise: float = 0.0
    schedule_on_events: bool = False
    max_quiet_ticks: int = 29
    horizon_s: float | None = None
    budget_period_s: float = 7 * 24 * 3600.0
    show_progress: bool = False
    oracle_throughput: bool = False  # every job reports its true rate on every class from arrival (an upper bound)


class Replay:
    """One policy over one workload on one cluster; `run()` returns the RunResult."""

    def __init__(self, workload: Workload, cluster: ClusterSpec, tenants: Sequence[TenantSpec], policy: Any,
                 policy_config: Any, config: EngineConfig, rng: random.Random,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.workload, self.policy, self.policy_config, self.config = workload, policy, policy_config, config
        self.clock = clock
        self.start_s = workload.jobs[0].arrival_s if workload.jobs else 0.0
        half_life_hours = getattr(policy_config, "half_life_hours", 24.0)
        self.holdings = Holdings(workload, cluster, tenants, half_life_hours, config.budget_period_s, self.start_s)
        smoothing = getattr(policy_config, "throughput_smoothing", 0.3)
        self.measured = MeasuredThroughput(rng, config.measurement_noise, smoothing)
        self.oracle = OracleRates(workload.matrix, cluster) if config.oracle_throughput else None
        self.classes = adapter.core_classes(cluster, relative_speeds(cluster, workload.matrix))
        self.nodes = adapter.core_nodes(cluster)
        self.states = {j.key: JobState(j) for j in workload.jobs}
        self.gpus_per_worker = {j.key: j.gpus_per_worker for j in workload.jobs}
        self.records: dict[str, tuple[Any, ...]] = {}
        self.events: list[tuple[float, int, int, str, int]] = []
        self.seq = self.cycles = self.finished = self.quiet_ticks = 0
        self.scheduler_wall_s = 0.0
        self.dirty, self.last_cycle_acted = True, False
        self.min_run_s = float(getattr(policy_config, "min_run_seconds", 0.0))
        # When running jobs pass the minimum run time (preemptible and movable from then on): (time, job, run start).
        # Used only while the policy does not say itself when time alone can next let it act (CycleResult.wake_at).
        self.wake_times: list[tuple[float, str, float]] = []
        self.policy_wake_at: float | None = None
        self.unmeasured: set[str] = set()
        self.now = self.start_s
        self._jobs_cache: tuple[Any, ...] | None = None
        # What the operator keeps in GPUClass and Tenant status for the next cycle: the classes with the last
        # cycle's prices (list prices where it gave none; no price before the first cycle), and the fair shares.
        self.carried_classes = self.classes
        self.last_fair_shares: Any = None
        self.cycle_prices: list[tuple[float, dict[str, float]]] = []
        self.preemptions_by_cause: dict[str, int] = {}
        self._records_cache: tuple[Any, ...] | None = None

    # -- events -------------------------------------------------------------------------------------------
    def _push(self, t: float, kind: int, key: str = "", version: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, key, version))

    def _schedule_job_event(self, state: JobState) -> None:
        when = state.next_event_time()
        if when is not None:
            self._push(when, JOB_EVENT, state.job.key, state.version)

    def _on_job_event(self, state: JobState, now: float) -> bool:
        """A phase boundary or the end of the work; returns True when the job finished."""
        state.advance(now)
        when = state.next_event_time()
        # Not there yet, unless what is left is below the resolution of the clock (a seconds-long job late in a
        # long replay), which would otherwise reschedule the same instant forever.
        if when is not None and when > now and state.done < state.next_boundary_samples() * (1 - 1e-12):
            self._push(when, JOB_EVENT, state.job.key, state.version)
            return False
        state.done = state.next_boundary_samples()
        if state.phase_index + 1 < len(state.job.phases):
            state.phase_index += 1
            self.holdings.rerate(state)
            state.version += 1
            self._schedule_job_event(state)
            self.dirty = True  # its next throughput report will differ: the policy has news
            return False
        self.holdings.ledger.advance(now)
        self.holdings.finish(state, now)
        self.unmeasured.discard(state.job.key)
        self.records.pop(state.job.key, None)
        self.measured.forget(state.job.key)
        self.finished += 1
        self._changed()
        return True

    def _changed(self) -> None:
        self.dirty = True
        self._jobs_cache = None

    # -- the cycle ----------------------------------------------------------------------------------------
    def _measure_running(self, now: float) -> None:
        """Each running job past its restart delay reports its samples/s, as scraped before a cycle."""
        for state in self.holdings.running.values():
            if now <= state.ready_at or state.gpu_class is None:
                continue
            self.unmeasured.discard(state.job.key)
            if self.measured.observe(state.job.key, state.gpu_class, state.workers, state.rate) > 0:
                self.records[state.job.key] = tuple(
                    adapter.core_throughput(state.job.key, c, w, v)
                    for (c, w), v in self.measured.pairs(state.job.key).items())
                self._records_cache = None

    def _report_oracle(self, state: JobState) -> None:
        """With `oracle_throughput`, a job arrives measured: its true samples/s (first phase, consolidated) on every
        class that runs it, at its gang size, as if it had run everywhere already (what Gavel's LP reads)."""
        assert self.oracle is not None
        job, pairs = state.job, []
        workers, gpus = job.min_workers, job.min_workers * job.gpus_per_worker
        for c in self.classes:
            rate = self.oracle.samples_per_second(job.phases[0].job_type, c.name, gpus)
            if rate > 0:
                self.measured.observe(job.key, c.name, workers, rate)
                pairs.append(adapter.core_throughput(job.key, c.name, workers, rate))
        if pairs:
            self.records[job.key] = tuple(pairs)
            self._records_cache = None

    def _newly_measurable(self, now: float) -> bool:
        """Whether a job has trained on a new (class, size) since the last cycle that it can compare with another."""
        return any(self.states[k].ready_at < now for k in self.unmeasured)

    def _would_compare(self, state: JobState) -> bool:
        """Whether the job's next report is news: a (class, workers) pair not yet measured, for a job measured on
        another pair. A job's very first report fixes no ratio between classes or sizes (every other pair is still
        estimated from the same prior), so it is read at the next cycle that runs anyway."""
        pairs = self.measured.pairs(state.job.key)
        return bool(pairs) and (state.gpu_class, state.workers) not in pairs

    def _cycle(self, now: float) -> None:
        self.holdings.ledger.advance(now)
        self._measure_running(now)
        began = self.clock()
        result = self.policy.schedule(self._snapshot(now), now, self.policy_config)
        self.scheduler_wall_s += self.clock() - began
        self.cycles += 1
        self.holdings.prices.update(result.prices)
        self.cycle_prices.append((now, dict(result.prices)))
        # What the operator keeps in GPUClass and Tenant status for the next cycle's market to start from (and
        # price damping to step from).
        self.carried_classes = adapter.with_prices(self.classes, result.prices)
        self.last_fair_shares = result.fair_shares
        self.policy_wake_at = getattr(result, "wake_at", None)
        acted = False
        for action in adapter.actions(result.decisions, self.gpus_per_worker):
            applied = self.holdings.apply(action, now, self.config.restart_s, self.config.checkpoint_every_s)
            if applied and isinstance(action, adapter.Stop) and action.cause is not None:
                self.preemptions_by_cause[action.cause] = self.preemptions_by_cause.get(action.cause, 0) + 1
            state = self.states.get(action.job_key)
            if state is None:
                continue
            if applied and state.running:
                self._schedule_job_event(state)
                if self._would_compare(state):
                    self.unmeasured.add(state.job.key)
                if self.min_run_s > 0:
                    heapq.heappush(self.wake_times, (now + self.min_run_s, state.job.key, state.run_start))
            elif applied:
                self.unmeasured.discard(state.job.key)
            acted |= applied
        self.holdings.recharge(result.charges)
        if acted:
            self._jobs_cache = None
        self.last_cycle_acted, self.dirty, self.quiet_ticks = acted, False, 0

    def _snapshot(self, now: float) -> Any:
        periodic = self.config.checkpoint_every_s > 0
        if self._jobs_cache is None or periodic:
            jobs = []
            for key, state in self.holdings.active.items():
                if state.core_job is None or (periodic and state.running):
                    state.core_job = adapter.core_job(
                        state, self.holdings.accepts[key],
                        state.last_checkpoint_at(now, self.config.checkpoint_every_s),
                        key in self.holdings.opportunistic)
                jobs.append(state.core_job)
            self._jobs_cache = tuple(jobs)
        if self._records_cache is None:
            self._records_cache = tuple(r for recs in self.records.values() for r in recs)
        return adapter.snapshot(self.carried_classes, self.nodes, self.holdings.core_tenants(self.last_fair_shares),
                                self._jobs_cache, self._records_cache)

    def _timer_passed(self, now: float) -> bool:
        """The policy's wake time came (or, for a policy that does not give one, a running job passed its minimum
        run time), or a budget period began, since the last cycle."""
        passed = False
        while self.wake_times and self.wake_times[0][0] <= now:
            _, key, started = heapq.heappop(self.wake_times)
            # Only a job still on the allocation it started then becomes preemptible; one that finished, was
            # stopped, resized or moved since has nothing to announce.
            state = self.states[key]
            passed |= state.running and state.run_start == started
        if self.policy_wake_at is not None:
            passed = now >= self.policy_wake_at
        return passed or now - self.holdings.ledger.period_start >= self.config.budget_period_s

    def _cycle_due(self, tick: bool, changed: bool) -> bool:
        if changed and self.config.schedule_on_events:
            return True
        if not tick:
            return False
        timers = self._timer_passed(self.now)
        # A policy that gives its wake time says itself whether its last decisions call for another cycle at once.
        follow_up = self.last_cycle_acted and self.policy_wake_at is None
        if (timers or self.dirty or self._newly_measurable(self.now) or self.config.max_quiet_ticks == 0
                or (self._anyone_waiting() and (follow_up or self.quiet_ticks >= self.config.max_quiet_ticks))):
            return True
        self.quiet_ticks += 1
        return False

    def _anyone_waiting(self) -> bool:
        """Whether some job waits for GPUs. Without one, time alone (usage decay) gives a policy nothing to act on:
        admissions and preemptions are for waiting jobs, and moves follow arrivals, completions and timers."""
        return len(self.holdings.active) > len(self.holdings.running)

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        # The workload, its job states and the matrix live for the whole replay: keep them out of the cyclic
        # collector's full passes, which would otherwise re-scan them every few cycles for nothing.
        gc.collect()
        gc.freeze()
        try:
            return self._run()
        finally:
            gc.unfreeze()

    def _run(self) -> RunResult:
        began = self.clock()
        jobs = self.workload.jobs
        bar = ProgressBar(self.policy_name, len(jobs), enabled=self.config.show_progress)
        for job in jobs:
            self._push(job.arrival_s, ARRIVAL, job.key)
        self._push(self.start_s, TICK)
        self.arrivals_left = len(jobs)
        now = self.start_s
        while self.events and self.finished < len(jobs):
            now = self.now = self.events[0][0]
            if self.config.horizon_s is not None and now - self.start_s > self.config.horizon_s:
                break
            changed, tick = False, False
            while self.events and self.events[0][0] == now:
                _, kind, _, key, version = heapq.heappop(self.events)
                if kind == TICK:
                    tick = True
                elif kind == ARRIVAL:
                    self.holdings.arrive(self.states[key])
                    if self.oracle is not None:
                        self._report_oracle(self.states[key])
                    self.arrivals_left -= 1
                    self._changed()
                    changed = True
                elif self.states[key].version == version:
                    changed |= self._on_job_event(self.states[key], now)
            if self._cycle_due(tick, changed):
                self._cycle(now)
            if tick:
                self._push(self._next_tick(now), TICK)
            self.holdings.record(now, changed or self.last_cycle_acted)
            bar.update(self.finished, now - self.start_s)
        bar.close(self.finished, now - self.start_s)
        return self._result(now, self.clock() - began)

    def _next_tick(self, now: float) -> float:
        """The next tick on the grid; with nothing active, the first grid point at or after the next arrival."""
        tick = now + self.config.tick_s
        if not self.holdings.active and self.arrivals_left:
            following = min(e[0] for e in self.events if e[1] == ARRIVAL)
            if following > tick:
                tick = now + self.config.tick_s * math.ceil((following - now) / self.config.tick_s)
        return tick

    @property
    def policy_name(self) -> str:
        return str(getattr(self.policy, "name", type(self.policy).__name__))

    def _result(self, end_s: float, wall_s: float) -> RunResult:
        h = self.holdings
        weights = {n: t.weight for n, t in h.tenants.items()}
        capacity = h.capacity
        outcomes = tuple(
            JobOutcome(key=s.job.key, tenant=s.job.tenant, gpus=s.job.gpus, arrival_s=s.job.arrival_s,
                       first_start_s=s.first_start, finish_s=s.finish,
                       isolated_s=h.oracle.isolated_seconds(s.job, tenant_slice(capacity, weights, s.job.tenant)),
                       preemptions=s.preemptions, resizes=s.resizes)
            for s in self.states.values())
        ledger = h.ledger
        return RunResult(policy=self.policy_name, capacity=capacity, weights=weights, jobs=outcomes,
                         timeline=tuple(h.timeline), end_s=end_s,
                         gpu_seconds_by_class=dict(ledger.gpu_seconds_by_class),
                         restart_gpu_seconds=h.restart_gpu_seconds, credits_by_tenant=dict(ledger.credits_by_tenant),
                         energy_joules=ledger.energy_joules, cycles=self.cycles,
                         scheduler_wall_s=self.scheduler_wall_s, wall_s=wall_s, violations=tuple(h.violations),
                         preemptions_by_cause=dict(self.preemptions_by_cause), cycle_prices=tuple(self.cycle_prices))
