"""Metering between events: GPU-seconds by class and tenant, credits charged, energy, decayed usage, spend."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from fairshare.core.usage import decay_usage, spend
from fairshare.simulator.results import Sample

HOUR = 3600.0


class Ledger:
    """Integrates the current holdings over simulated time; holdings change only through `hold`/`release`.

    Decayed usage and spend use the core's own functions (`usage.decay_usage`, exact for constant holdings,
    and `usage.spend` at the prices the last cycle charged); spend restarts at every budget period boundary.
    """

    def __init__(self, power_watts: Mapping[str, float], tenants: Iterable[str], half_life_hours: float,
                 budget_period_s: float, start_s: float) -> None:
        self.power_watts = dict(power_watts)
        self.held_by_class = {c: 0 for c in power_watts}
        self.held_by_tenant = {t: 0 for t in tenants}
        self.credit_rate_by_tenant = {t: 0.0 for t in self.held_by_tenant}  # credits per hour
        self.gpu_seconds_by_class = {c: 0.0 for c in power_watts}
        self.credits_by_tenant = {t: 0.0 for t in self.held_by_tenant}
        self.spent_this_period = {t: 0.0 for t in self.held_by_tenant}
        self.decayed_usage_gpu_hours = {t: 0.0 for t in self.held_by_tenant}
        self.energy_joules = 0.0
        self.half_life_hours = half_life_hours
        self.budget_period_s = budget_period_s
        self.now = start_s
        self.period_start = start_s

    def advance(self, t: float) -> None:
        if t <= self.now:
            return
        dt = t - self.now
        for gpu_class, held in self.held_by_class.items():
            if held:
                self.gpu_seconds_by_class[gpu_class] += held * dt
                self.energy_joules += held * self.power_watts[gpu_class] * dt
        hours = dt / HOUR
        for tenant, held in self.held_by_tenant.items():
            self.decayed_usage_gpu_hours[tenant] = decay_usage(self.decayed_usage_gpu_hours[tenant], held, hours,
                                                               self.half_life_hours)
            if held:
                credits = spend(held, self.credit_rate_by_tenant[tenant] / held, hours)
                self.credits_by_tenant[tenant] += credits
                self.spent_this_period[tenant] += credits
        if t - self.period_start >= self.budget_period_s:
            periods = math.floor((t - self.period_start) / self.budget_period_s)
            self.period_start += periods * self.budget_period_s
            self.spent_this_period = dict.fromkeys(self.spent_this_period, 0.0)
        self.now = t

    def hold(self, tenant: str, gpu_class: str, gpus: int, price_per_gpu_hour: float) -> None:
        self.held_by_class[gpu_class] += gpus
        self.held_by_tenant[tenant] += gpus
        self.credit_rate_by_tenant[tenant] += gpus * price_per_gpu_hour

    def release(self, tenant: str, gpu_class: str, gpus: int, price_per_gpu_hour: float) -> None:
        self.hold(tenant, gpu_class, -gpus, price_per_gpu_hour)

    def sample(self, demand_by_tenant: Mapping[str, int], prices: Mapping[str, float]) -> Sample:
        return Sample(self.now, dict(self.held_by_class), {t: n for t, n in self.held_by_tenant.items() if n},
                      {t: n for t, n in demand_by_tenant.items() if n}, dict(prices))
