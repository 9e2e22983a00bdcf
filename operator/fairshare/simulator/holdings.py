"""Who holds which GPUs: active and running jobs, free GPUs per node, and applying the core's decisions to them.

Every decision is checked before it takes effect: a placement must be on free GPUs of one class that the job
can run on; anything else is refused and recorded as a violation (the tests require none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fairshare.simulator import core_adapter as adapter
from fairshare.simulator.cluster import ClusterSpec
from fairshare.simulator.jobstate import JobState
from fairshare.simulator.ledger import Ledger
from fairshare.simulator.rates import OracleRates
from fairshare.simulator.results import Sample
from fairshare.simulator.tenants import TenantSpec
from fairshare.simulator.workload import Workload


class Holdings:
    """The cluster's allocation state during a replay, plus the metering that follows it."""

    def __init__(self, workload: Workload, cluster: ClusterSpec, tenants: Sequence[TenantSpec], half_life_hours: float,
                 budget_period_s: float, start_s: float) -> None:
        self.tenants = {t.name: t for t in tenants}
        self.capacity = cluster.capacity()
        self.oracle = OracleRates(workload.matrix, cluster)
        self.accepts = {j.key: self.oracle.classes_that_run(j) for j in workload.jobs}
        self.node_class = {n.name: n.gpu_class for n in cluster.nodes}
        self.free = {n.name: n.gpus for n in cluster.nodes}
        self.ledger = Ledger({c.name: c.info.power_watts for c in cluster.classes}, self.tenants, half_life_hours,
                             budget_period_s, start_s)
        self.active: dict[str, JobState] = {}
        self.running: dict[str, JobState] = {}
        self.demand = dict.fromkeys(self.tenants, 0)
        self.opportunistic: set[str] = set()
        self.prices: dict[str, float] = {c.name: c.info.price_per_gpu_hour for c in cluster.classes}
        self.timeline: list[Sample] = []
        self.violations: list[str] = []
        self.restart_gpu_seconds = 0.0
        self._last_prices: dict[str, float] = {}
        self._base_tenants = {t.name: adapter.core_tenant(t, 0.0, 0.0) for t in tenants}

    # -- job life -----------------------------------------------------------------------------------------
    def arrive(self, state: JobState) -> None:
        self.active[state.job.key] = state
        self.demand[state.job.tenant] += state.job.gpus

    def finish(self, state: JobState, now: float) -> None:
        self._release(state)
        state.gpu_class, state.workers, state.placement, state.rate = None, 0, {}, 0.0
        state.finish = now
        state.version += 1
        del self.active[state.job.key]
        self.demand[state.job.tenant] -= state.job.gpus

    def rerate(self, state: JobState) -> None:
        if state.gpu_class is not None:
            state.rate = self.oracle.samples_per_second(state.phase_job_type, state.gpu_class, state.gpus,
                                                        state.consolidated)

    # -- GPUs ---------------------------------------------------------------------------------------------
    def _release(self, state: JobState) -> None:
        if state.gpu_class is None:
            return
        for node, gpus in state.placement.items():
            self.free[node] += gpus
        self.ledger.release(state.job.tenant, state.gpu_class, state.gpus, state.price)
        self.running.pop(state.job.key, None)
        state.core_job = None

    def _take(self, state: JobState, placement: Mapping[str, int], gpu_class: str) -> str | None:
        """Take GPUs for a placement if it is valid; otherwise return why not and take nothing."""
        if any(self.node_class.get(n) != gpu_class for n in placement):
            return f"{state.job.key}: placement {dict(placement)} is not all on class {gpu_class}"
        if any(self.free[n] < g for n, g in placement.items()):
            return f"{state.job.key}: placement {dict(placement)} exceeds free GPUs"
        if gpu_class not in self.accepts[state.job.key]:
            return f"{state.job.key}: placed on {gpu_class}, where it cannot run"
        for node, gpus in placement.items():
            self.free[node] -= gpus
        return None

    def _hold(self, state: JobState, now: float) -> None:
        assert state.gpu_class is not None
        self.rerate(state)
        self.ledger.hold(state.job.tenant, state.gpu_class, state.gpus, state.price)
        self.running[state.job.key] = state
        self.restart_gpu_seconds += max(state.ready_at - now, 0.0) * state.gpus
        state.core_job = None

    def _refund_restart(self, state: JobState, now: float) -> None:
        self.restart_gpu_seconds -= max(state.ready_at - now, 0.0) * state.gpus

    def apply(self, action: adapter.Action, now: float, restart_s: float, checkpoint_every_s: float) -> bool:
        """Apply one decision; returns whether anything changed."""
        state = self.active.get(action.job_key)
        if state is None:
            self.violations.append(f"decision about unknown or finished job {action.job_key}")
            return False
        if isinstance(action, adapter.Stop):
            if not state.running:
                self.violations.append(f"preempt of {action.job_key}, which holds nothing")
                return False
            state.advance(now)
            self._release(state)
            self._refund_restart(state, now)
            state.stop(now, checkpoint_every_s)
            self.opportunistic.discard(action.job_key)
            return True
        if isinstance(action, adapter.Start):
            if state.running:
                self.violations.append(f"admit of {action.job_key}, which already runs")
                return False
            problem = self._take(state, action.placement, action.gpu_class)
            if problem:
                self.violations.append(problem)
                return False
            state.start(now, action.gpu_class, action.workers, action.placement, action.price, restart_s)
            (self.opportunistic.add if action.opportunistic else self.opportunistic.discard)(action.job_key)
            self._hold(state, now)
            return True
        if not state.running or state.gpu_class is None:
            self.violations.append(f"resize of {action.job_key}, which holds nothing")
            return False
        gpu_class, old = state.gpu_class, dict(state.placement)
        state.advance(now)
        self._release(state)
        problem = self._take(state, action.placement, gpu_class)
        if problem:
            self._take(state, old, gpu_class)
            self.ledger.hold(state.job.tenant, gpu_class, state.gpus, state.price)
            self.running[state.job.key] = state
            self.violations.append(problem)
            return False
        self._refund_restart(state, now)
        state.resize(now, action.workers, action.placement, action.price, restart_s, checkpoint_every_s)
        self._hold(state, now)
        return True

    def recharge(self, charges: Mapping[str, float]) -> None:
        """Charge every running job the price the cycle set for it from now on (its admission price otherwise)."""
        for key, price in charges.items():
            state = self.running.get(key)
            if state is not None and state.gpu_class is not None and price != state.price:
                self.ledger.release(state.job.tenant, state.gpu_class, state.gpus, state.price)
                state.price = price
                self.ledger.hold(state.job.tenant, state.gpu_class, state.gpus, price)

    # -- views --------------------------------------------------------------------------------------------
    def core_tenants(self, fair_shares: Mapping[str, Mapping[str, float]] | None = None) -> list[Any]:
        """The tenants with their spend, decayed usage and (when a cycle set them) fair shares, as in Tenant status."""
        ledger, shares = self.ledger, fair_shares or {}
        return [adapter.with_usage(base, ledger.spent_this_period[name], ledger.decayed_usage_gpu_hours[name],
                                   shares.get(name))
                for name, base in self._base_tenants.items()]

    def record(self, now: float, changed: bool) -> None:
        """Append a timeline sample when holdings, demand or prices may have changed."""
        if changed or self.prices != self._last_prices:
            self.ledger.advance(now)
            self._last_prices = dict(self.prices)
            self.timeline.append(self.ledger.sample(self.demand, self.prices))
