"""The spend ledger as pure functions: jobs' charges, split by budget period, and a tenant's spend summed from them.

A job's status is the book of record: it holds what the job was charged over its life, what of that falls in its
tenant's current budget period, and until when it is charged (a whole second: the time the status can store). A
charge always covers the time from that mark to a new one, so a charge that is lost is redone whole by the next, and
one that was written is never redone: charges are idempotent under retries and crashes.

A tenant's spend this period is derived from them, not metered apart: the sum, over its jobs, of what each was charged
in the period. Its status keeps one figure per job charged in the period (absolute, so writing it twice changes
nothing), kept after the job is gone for a grace time (so a job seen gone and then again is not counted twice), then
folded into what the jobs gone had been charged (`closed`): a deleted job keeps its charges. A running job deleted
between two charges is charged once more, in its entry, from its last mark to when it was seen gone (departure_charge,
final_entries); the entry is then final, and no later sighting of its UID changes it. Foreign pods, which have no
status, are charged in the tenant's ledger itself, from a mark of its own.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

SECONDS_PER_HOUR = 3600.0


def period_start(anchor: float, period_hours: float, at: float) -> float:
    """Rule: budget periods are `period_hours` long, counted from the tenant's first one (`anchor`); a time before it
    counts in the first."""
    length = period_hours * SECONDS_PER_HOUR
    if at <= anchor:
        return anchor
    return anchor + length * math.floor((at - anchor) / length)


def charge_mark(now: float) -> float:
    """Rule: a charge runs up to the last whole second, the time a status stores, so that the next charge starts
    exactly where this one ended (never twice over a fraction of a second)."""
    return float(math.floor(now))


def release_mark(now: float) -> float:
    """Rule: the charge that releases an allocation (its last) runs up to the next whole second, so the fraction of
    a second since the last whole one is charged rather than lost: a gang seen Running and finished within one
    second would otherwise be charged nothing."""
    return float(math.ceil(now))


@dataclasses.dataclass(frozen=True)
class JobCharges:
    """What a job's status records of its charges: life totals, the part in one budget period, and until when."""

    credits: float = 0.0
    gpu_hours: float = 0.0
    energy_kwh: float = 0.0
    period_start: float | None = None  # the tenant's budget period that `period_credits` falls in
    period_credits: float = 0.0
    charged_through: float | None = None  # the mark the next charge starts from

    def in_period(self, start: float) -> float:
        """Credits charged in the budget period that starts at `start` (0 for any other period)."""
        return self.period_credits if self.period_start == start else 0.0


@dataclasses.dataclass(frozen=True)
class Rate:
    """What holding an allocation costs per hour: its GPUs, the price each pays, and the power each draws."""

    gpus: int
    price_per_gpu_hour: float
    watts_per_gpu: float = 0.0


def charge(before: JobCharges, since: float, now: float, rate: Rate, period: float,
           releasing: bool = False) -> JobCharges:
    """Rule: a job is charged GPUs x price x the hours from `since` (its last mark, or when it began to pay) to the
    whole second at or before `now`; the part from the start of the tenant's current budget `period` counts in that
    period, and a job whose credits counted in an earlier period starts the new one at what falls after its start.
    A job's first charge counts whole in the current period (it has no earlier one to count in). The charge that
    releases the allocation (`releasing`) runs to the next whole second instead (release_mark)."""
    mark = max(since, release_mark(now) if releasing else charge_mark(now))
    hours = (mark - since) / SECONDS_PER_HOUR
    counted_from = since if before.period_start is None else max(since, period)
    in_period = max(0.0, mark - counted_from) / SECONDS_PER_HOUR
    credits_per_hour = rate.gpus * rate.price_per_gpu_hour
    return JobCharges(credits=before.credits + credits_per_hour * hours,
                      gpu_hours=before.gpu_hours + rate.gpus * hours,
                      energy_kwh=before.energy_kwh + rate.gpus * rate.watts_per_gpu * hours / 1000.0,
                      period_start=period,
                      period_credits=before.in_period(period) + credits_per_hour * in_period,
                      charged_through=mark)


def departure_charge(last: JobCharges, since: float | None, gone: float, rate: Rate, period: float) -> JobCharges:
    """Rule: a job deleted while it held GPUs and paid for them (`since`: its last mark, or when it began to pay; None
    when it was not paying: finished, released, or its gang still starting) is charged, from its last body's charges
    (`last`), up to the release mark of when it was seen gone (`gone`), at the price it last paid; one not paying
    keeps what it was charged."""
    if since is None:
        return last
    return charge(last, since, gone, rate, period, releasing=True)


CLOSED_GRACE_SECONDS = 1800.0  # a closed entry is kept apart this long before it is folded into `closed`


@dataclasses.dataclass(frozen=True)
class TenantLedger:
    """A tenant's spend in one budget period: what each of its jobs (and foreign pods) was charged in it, by UID,
    those gone since included until their grace ends (`closed_at`: UID -> when first seen gone), what the entries
    folded after their grace had been charged (`closed`), until when its foreign pods are charged, and the entries
    that hold their job's last charge (`final`: UID -> until when it charged the deleted job)."""

    period_start: float
    closed: float = 0.0
    jobs: Mapping[str, float] = dataclasses.field(default_factory=dict)
    closed_at: Mapping[str, float] = dataclasses.field(default_factory=dict)
    foreign_through: float | None = None
    final: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def spend(self) -> float:
        """Credits spent this period: the sum of the jobs' charges in it."""
        return self.closed + sum(self.jobs.values())


@dataclasses.dataclass(frozen=True)
class Foreign:
    """The tenant's foreign pods now (pod UID -> what holding its GPUs costs), and whether this post charges them."""

    pods: Mapping[str, Rate] = dataclasses.field(default_factory=dict)
    charge: bool = True


def foreign_entries(before: TenantLedger, period: float, foreign: Foreign, now: float) -> dict[str, float]:
    """Rule: a foreign pod (no status of its own to record a charge) is charged in the tenant's ledger: GPUs x price x
    the hours from the tenant's foreign mark (or the period's start, if later) to the whole second at or before
    `now`, added to its entry; a pod that appeared since the mark is charged from the mark (it is seen only at
    posts). The first post with foreign pods only sets the mark; one with none drops it."""
    mark = charge_mark(now)
    since = before.foreign_through
    out: dict[str, float] = {}
    for uid, rate in sorted(foreign.pods.items()):
        entry = before.jobs.get(uid, 0.0)
        if foreign.charge and since is not None:
            entry += rate.gpus * rate.price_per_gpu_hour * max(0.0, mark - max(since, period)) / SECONDS_PER_HOUR
        out[uid] = entry
    return out


def final_entries(before: TenantLedger, period: float, departed: Mapping[str, JobCharges]) -> dict[str, float]:
    """Rule: a job seen deleted (`departed`: UID -> its charges up to then, departure_charge) gets its entry set to
    what it was charged in the period, never lowered, once: a UID whose entry is already final is left out (a second
    sighting of the deletion, a resync, a restart with the deletion still known, adds nothing)."""
    return {uid: max(c.in_period(period), before.jobs.get(uid, 0.0))
            for uid, c in sorted(departed.items()) if uid not in before.final}


def post(before: TenantLedger | None, period: float, charges: Mapping[str, JobCharges], now: float,
         foreign: Foreign | None = None, grace: float = CLOSED_GRACE_SECONDS,
         departed: Mapping[str, JobCharges] | None = None) -> TenantLedger:
    """The tenant's ledger after its jobs' charges (`charges`: job UID -> what its status records, or will once this
    cycle's writes land, for every job the tenant has now), its deleted jobs' last charges (`departed`:
    final_entries) and its foreign pods' (foreign_entries).

    Rules: a new budget period starts empty; each job's entry is what it was charged in the period, replaced whole
    (idempotent), and never lowered within the period (a status rewritten by hand does not refund anything); an
    entry whose job (or pod) is gone stays, marked closed at the time it was first seen gone, and is folded into
    `closed` only `grace` seconds later, so that a job seen gone and then again (a stale LIST, a write's response
    read after the deletion, a crash between two posts) keeps one entry and is never counted twice; a final entry
    is closed for good (its job is gone: a body of its UID seen later is a ghost, and changes nothing); an entry of
    nothing charged is dropped."""
    if before is None or before.period_start != period:
        before = TenantLedger(period, foreign_through=before.foreign_through if before is not None else None)
    foreign = foreign or Foreign()
    departed = departed or {}
    finals = final_entries(before, period, departed)
    left = set(departed) | set(before.final)
    present = {uid: max(c.in_period(period), before.jobs.get(uid, 0.0))
               for uid, c in sorted(charges.items()) if uid not in left}
    present.update(foreign_entries(before, period, foreign, now))
    jobs = dict(present)
    closed_at: dict[str, float] = {}
    closed = before.closed
    for uid, amount in sorted({**before.jobs, **finals}.items()):
        if uid in present:
            continue
        gone = before.closed_at.get(uid, charge_mark(now))
        if now - gone >= grace:
            closed += amount
        else:
            jobs[uid], closed_at[uid] = amount, gone
    # The foreign mark is kept only while the tenant has foreign pods: a pod that comes later is charged from then.
    through = None if not foreign.pods else (
        charge_mark(now) if foreign.charge or before.foreign_through is None else before.foreign_through)
    final = {**before.final, **{uid: departed[uid].charged_through or charge_mark(now) for uid in finals}}
    return TenantLedger(period, closed, {uid: v for uid, v in jobs.items() if v > 0},
                        {uid: t for uid, t in closed_at.items() if jobs.get(uid, 0.0) > 0}, through,
                        {uid: t for uid, t in sorted(final.items()) if jobs.get(uid, 0.0) > 0})
