"""The spend ledger: jobs charged exactly over time and by budget period, tenants' spend summed from their jobs'
charges, both idempotent under retries and crashes (a clock is injected: every time here is a number)."""

from __future__ import annotations

import random

import pytest

from fairshare.core.ledger import (
    CLOSED_GRACE_SECONDS,
    Foreign,
    JobCharges,
    Rate,
    TenantLedger,
    charge,
    charge_mark,
    departure_charge,
    final_entries,
    period_start,
    post,
)

HOUR = 3600.0
DAY = 24 * HOUR
T0 = 1_700_000_000.0  # a whole second
EIGHT_AT_2 = Rate(gpus=8, price_per_gpu_hour=2.0, watts_per_gpu=500.0)  # 16 credits an hour


@pytest.mark.parametrize(("anchor", "hours", "at", "want"), [
    pytest.param(T0, 24, T0 + 5 * HOUR, T0, id="inside the first period"),
    pytest.param(T0, 24, T0 + DAY, T0 + DAY, id="a period starts exactly at its boundary"),
    pytest.param(T0, 24, T0 + 3 * DAY + 1, T0 + 3 * DAY, id="periods are counted from the first, however idle"),
    pytest.param(T0, 24, T0 - HOUR, T0, id="before the first period: counts in it"),
])
def test_period_start(anchor: float, hours: float, at: float, want: float) -> None:
    assert period_start(anchor, hours, at) == want


@pytest.mark.parametrize(("before", "since", "now", "period", "want"), [
    pytest.param(JobCharges(), T0, T0 + HOUR, T0,
                 JobCharges(16.0, 8.0, 4.0, T0, 16.0, T0 + HOUR), id="an hour of 8 GPUs at 2 credits"),
    pytest.param(JobCharges(), T0, T0 + HOUR + 0.75, T0,
                 JobCharges(16.0, 8.0, 4.0, T0, 16.0, T0 + HOUR),
                 id="charged to the whole second: the fraction goes to the next charge"),
    pytest.param(JobCharges(10.0, 5.0, 2.5, T0, 10.0, T0), T0, T0 + 0.5 * HOUR, T0,
                 JobCharges(18.0, 9.0, 4.5, T0, 18.0, T0 + 0.5 * HOUR), id="added to what it was charged"),
    pytest.param(JobCharges(10.0, 5.0, 2.5, T0 - DAY, 10.0, T0 - HOUR), T0 - HOUR, T0 + HOUR, T0,
                 JobCharges(42.0, 21.0, 10.5, T0, 16.0, T0 + HOUR),
                 id="across a period's start: the hour after it counts in the new period"),
    pytest.param(JobCharges(), T0 - HOUR, T0 + HOUR, T0,
                 JobCharges(32.0, 16.0, 8.0, T0, 32.0, T0 + HOUR),
                 id="a first charge counts whole in the current period"),
    pytest.param(JobCharges(10.0, 5.0, 2.5, T0, 10.0, T0 + HOUR), T0 + HOUR, T0 + HOUR + 0.3, T0,
                 JobCharges(10.0, 5.0, 2.5, T0, 10.0, T0 + HOUR), id="under a second later: nothing more"),
])
def test_charge(before: JobCharges, since: float, now: float, period: float, want: JobCharges) -> None:
    got = charge(before, since, now, EIGHT_AT_2, period)
    assert _rounded(got) == _rounded(want)


SECOND = 1.0 / HOUR


@pytest.mark.parametrize(("since", "now", "want_through"), [
    pytest.param(T0, T0 + 0.4, T0 + 1, id="seen running and released within one second: one second, not nothing"),
    pytest.param(T0, T0 + HOUR + 0.75, T0 + HOUR + 1, id="the fraction after the last whole second is charged"),
    pytest.param(T0, T0 + HOUR, T0 + HOUR, id="released on a whole second: exactly to it"),
])
def test_a_release_charges_up_to_the_next_whole_second(since: float, now: float, want_through: float) -> None:
    got = charge(JobCharges(), since, now, EIGHT_AT_2, T0, releasing=True)
    assert got.charged_through == want_through
    assert got.gpu_hours == pytest.approx(8 * (want_through - since) * SECOND)
    assert got.credits > 0


def _rounded(c: JobCharges) -> tuple[float | None, ...]:
    return tuple(round(v, 9) if v is not None else None for v in
                 (c.credits, c.gpu_hours, c.energy_kwh, c.period_start, c.period_credits, c.charged_through))


def test_charges_at_any_cadence_add_up_to_one_charge_over_the_whole_time() -> None:
    rnd = random.Random(7)
    one = charge(JobCharges(), T0, T0 + 2 * HOUR, EIGHT_AT_2, T0)
    many, now = JobCharges(charged_through=T0), T0
    while now < T0 + 2 * HOUR:
        now = min(T0 + 2 * HOUR, now + rnd.uniform(0.1, 400.0))  # fractions of a second included
        assert many.charged_through is not None
        many = charge(many, many.charged_through, now, EIGHT_AT_2, T0)
    assert _rounded(many) == _rounded(one)


def test_a_lost_charge_is_redone_whole_by_the_next_and_a_written_one_never_again() -> None:
    """Crash and retry: a charge is a pure function of the stored status and the clock, so a write that was lost is
    recomputed from the same mark (covering the longer time), and a charge re-read after a crash starts from the new
    mark (nothing twice)."""
    stored = charge(JobCharges(), T0, T0 + 30, EIGHT_AT_2, T0)
    lost = charge(stored, T0 + 30, T0 + 60, EIGHT_AT_2, T0)  # computed, never written (the operator was killed)
    del lost
    redone = charge(stored, T0 + 30, T0 + 90, EIGHT_AT_2, T0)
    retried = charge(stored, T0 + 30, T0 + 90, EIGHT_AT_2, T0)  # the same write sent twice
    assert redone == retried
    assert redone.credits == pytest.approx(16.0 * 90 / HOUR)
    after_crash = charge(redone, redone.charged_through or 0.0, T0 + 90.9, EIGHT_AT_2, T0)
    assert after_crash == redone


def job(credits: float, period: float | None = T0) -> JobCharges:
    return JobCharges(credits=credits, period_start=period, period_credits=credits)


NOW = T0 + 100.0
GRACE = CLOSED_GRACE_SECONDS


@pytest.mark.parametrize(("before", "period", "charges", "want"), [
    pytest.param(None, T0, {"u1": job(3.0), "u2": job(4.5), "u3": job(0.0)},
                 TenantLedger(T0, 0.0, {"u1": 3.0, "u2": 4.5}),
                 id="the sum of its jobs' charges; a job charged nothing has no entry"),
    pytest.param(TenantLedger(T0, 1.0, {"u1": 3.0}), T0, {"u1": job(5.0)},
                 TenantLedger(T0, 1.0, {"u1": 5.0}),
                 id="a job's entry is replaced whole by what it was charged"),
    pytest.param(TenantLedger(T0, 1.0, {"u1": 3.0, "u2": 2.0}), T0, {"u2": job(2.5)},
                 TenantLedger(T0, 1.0, {"u1": 3.0, "u2": 2.5}, {"u1": NOW}),
                 id="a deleted job keeps its charges: its entry stays, closed when it was first seen gone"),
    pytest.param(TenantLedger(T0, 1.0, {"u1": 3.0, "u2": 2.0}, {"u1": T0}), T0, {"u2": job(2.5)},
                 TenantLedger(T0, 1.0, {"u1": 3.0, "u2": 2.5}, {"u1": T0}),
                 id="a closed entry keeps its first closing time"),
    pytest.param(TenantLedger(T0, 1.0, {"u1": 3.0, "u2": 2.0}, {"u1": NOW - GRACE}), T0, {"u2": job(2.5)},
                 TenantLedger(T0, 4.0, {"u2": 2.5}),
                 id="after its grace, a closed entry is folded into closed"),
    pytest.param(TenantLedger(T0, 1.0, {"u1": 3.0}, {"u1": T0}), T0, {"u1": job(3.0)},
                 TenantLedger(T0, 1.0, {"u1": 3.0}),
                 id="a job seen gone and then again (a ghost) keeps its one entry, open again"),
    pytest.param(TenantLedger(T0, 1.0, {"u1": 3.0}), T0, {"u1": job(1.0)},
                 TenantLedger(T0, 1.0, {"u1": 3.0}),
                 id="an entry never falls: a status rewritten by hand refunds nothing"),
    pytest.param(TenantLedger(T0 - DAY, 9.0, {"u1": 3.0, "u9": 1.0}, {"u9": T0 - 10}), T0,
                 {"u1": job(2.0), "u2": job(7.0, T0 - DAY)}, TenantLedger(T0, 0.0, {"u1": 2.0}),
                 id="a new period starts empty: only charges in it count"),
])
def test_post(before: TenantLedger | None, period: float, charges: dict[str, JobCharges],
              want: TenantLedger) -> None:
    assert post(before, period, charges, NOW) == want


TWO_AT_3 = Rate(gpus=2, price_per_gpu_hour=3.0)  # 6 credits an hour


@pytest.mark.parametrize(("before", "foreign", "want_jobs", "want_through"), [
    pytest.param(TenantLedger(T0), Foreign({"p1": TWO_AT_3}), {}, NOW,
                 id="the first post sets the mark and charges nothing"),
    pytest.param(TenantLedger(T0, jobs={"p1": 1.0}, foreign_through=NOW - 60), Foreign({}), {"p1": 1.0}, None,
                 id="no foreign pod: the mark is dropped; a pod gone keeps its entry"),
    pytest.param(TenantLedger(T0, foreign_through=NOW - 60), Foreign({"p1": TWO_AT_3}), {"p1": 6.0 * 60 / HOUR}, NOW,
                 id="a pod is charged its GPUs x price from the mark to now"),
    pytest.param(TenantLedger(T0, jobs={"p1": 1.0}, foreign_through=NOW - 60), Foreign({"p1": TWO_AT_3}),
                 {"p1": 1.0 + 6.0 * 60 / HOUR}, NOW, id="added to what it was charged before"),
    pytest.param(TenantLedger(T0, jobs={"p1": 1.0}, foreign_through=NOW - 60), Foreign({"p1": TWO_AT_3}, False),
                 {"p1": 1.0}, NOW - 60, id="not due: neither charged nor the mark moved"),
    pytest.param(TenantLedger(T0, foreign_through=T0 - 60), Foreign({"p1": TWO_AT_3}), {"p1": 6.0 * 100 / HOUR}, NOW,
                 id="only the part in the current period counts in it"),
])
def test_foreign_pods_are_charged_in_the_ledger(before: TenantLedger, foreign: Foreign, want_jobs: dict[str, float],
                                                 want_through: float) -> None:
    after = post(before, T0, {}, NOW, foreign)
    assert (dict(after.jobs), after.foreign_through) == (pytest.approx(want_jobs), want_through)


def test_posting_twice_or_after_a_lost_write_gives_the_same_ledger() -> None:
    """Idempotent: the ledger is recomputed from the stored one and the jobs' charges, whatever was lost."""
    stored = TenantLedger(T0, 2.0, {"u1": 3.0, "u2": 1.0}, foreign_through=NOW - 60)
    charges = {"u2": job(1.5), "u3": job(4.0)}
    foreign = Foreign({"p1": TWO_AT_3})
    once = post(stored, T0, charges, NOW, foreign)
    assert post(once, T0, charges, NOW, foreign) == once
    assert post(stored, T0, charges, NOW, foreign) == once  # the write of `once` was lost: recomputed from `stored`
    assert once.spend == pytest.approx(2.0 + 3.0 + 1.5 + 4.0 + 6.0 * 60 / HOUR)


def test_a_job_closed_twice_is_counted_once() -> None:
    """A job seen gone, then back (a stale LIST, a crash between two posts), then gone again: one entry, one charge."""
    ledger = post(None, T0, {"u1": job(3.0), "u2": job(1.0)}, NOW)
    for step, seen in enumerate(({"u2": job(1.0)}, {"u1": job(3.0), "u2": job(1.0)}, {"u2": job(1.0)}, {})):
        ledger = post(ledger, T0, seen, NOW + 10 * (step + 1))
    ledger = post(ledger, T0, {}, NOW + 10 + GRACE * 2)
    assert (ledger.spend, ledger.closed, dict(ledger.jobs)) == (4.0, 4.0, {})


def test_a_random_history_spends_exactly_what_its_jobs_were_charged() -> None:
    """Jobs start, are charged at random times and prices, and are deleted; the ledger is posted at random times
    (some posts lost). At the end its spend is the sum of every job's charges, deleted jobs included."""
    rnd = random.Random(3)
    ledger: TenantLedger | None = None
    live: dict[str, JobCharges] = {}
    deleted_total = 0.0
    now = T0
    for step in range(2_000):
        now += rnd.uniform(0.1, 20.0)
        if rnd.random() < 0.05:
            live[f"u{step}"] = JobCharges(charged_through=charge_mark(now))
        for uid, c in list(live.items()):
            if rnd.random() < 0.3 and c.charged_through is not None:
                live[uid] = charge(c, c.charged_through, now, Rate(rnd.randint(1, 8), rnd.uniform(0.5, 3.0)), T0)
        if live and rnd.random() < 0.02:
            gone = rnd.choice(sorted(live))
            ledger = post(ledger, T0, live, now)  # the release charge is posted in the cycle that writes it
            deleted_total += live.pop(gone).credits
        posted = post(ledger, T0, live, now)
        if rnd.random() < 0.8:  # 1 post in 5 is lost
            ledger = posted
    ledger = post(ledger, T0, live, now)
    assert ledger.spend == pytest.approx(deleted_total + sum(c.credits for c in live.values()), rel=1e-12)


@pytest.mark.parametrize(("last", "since", "gone", "period", "want"), [
    pytest.param(job(1.0), T0, T0 + 20.2, T0, JobCharges(1.0 + 16.0 * 21 / HOUR, 8.0 * 21 / HOUR, 4.0 * 21 / HOUR,
                                                         T0, 1.0 + 16.0 * 21 / HOUR, T0 + 21),
                 id="running: charged from its last mark to the whole second after it was seen gone"),
    pytest.param(job(1.0), None, T0 + 20.2, T0, job(1.0),
                 id="not paying (finished, released, gang starting): keeps what it was charged"),
    pytest.param(job(1.0, T0 - DAY), T0 - 10, T0 + 20, T0,
                 JobCharges(1.0 + 16.0 * 30 / HOUR, 8.0 * 30 / HOUR, 4.0 * 30 / HOUR, T0, 16.0 * 20 / HOUR, T0 + 20),
                 id="across a period's start: only the part after it counts in the period"),
])
def test_departure_charge(last: JobCharges, since: float | None, gone: float, period: float,
                          want: JobCharges) -> None:
    assert _rounded(departure_charge(last, since, gone, EIGHT_AT_2, period)) == _rounded(want)


@pytest.mark.parametrize(("before", "departed", "want"), [
    pytest.param(TenantLedger(T0, 0.0, {"u1": 1.0}), {"u1": job(1.5)}, {"u1": 1.5},
                 id="the entry becomes what the deleted job was charged, its last charge included"),
    pytest.param(TenantLedger(T0), {"u1": job(1.5)}, {"u1": 1.5},
                 id="a job deleted before its first charge reached the ledger gets its entry"),
    pytest.param(TenantLedger(T0, 0.0, {"u1": 2.0}), {"u1": job(1.5)}, {"u1": 2.0},
                 id="never lowered"),
    pytest.param(TenantLedger(T0, 0.0, {"u1": 1.5}, final={"u1": T0 + 5}), {"u1": job(9.0)}, {},
                 id="an entry already final is left alone"),
    pytest.param(TenantLedger(T0, 0.0, {}), {"u1": job(4.0, T0 - DAY)}, {"u1": 0.0},
                 id="charges of an earlier period count for nothing in this one"),
])
def test_final_entries(before: TenantLedger, departed: dict[str, JobCharges], want: dict[str, float]) -> None:
    assert final_entries(before, T0, departed) == want


def departed_job(credits: float, through: float) -> JobCharges:
    return JobCharges(credits=credits, period_start=T0, period_credits=credits, charged_through=through)


@pytest.mark.parametrize(("before", "charges", "departed", "want"), [
    pytest.param(TenantLedger(T0, 0.0, {"u1": 1.0, "u2": 2.0}), {"u2": job(2.0)}, {"u1": departed_job(1.5, NOW)},
                 TenantLedger(T0, 0.0, {"u1": 1.5, "u2": 2.0}, {"u1": NOW}, final={"u1": NOW}),
                 id="a job deleted while it ran: its last charge goes into its entry, closed and final"),
    pytest.param(TenantLedger(T0, 0.0, {"u1": 1.5}, {"u1": NOW - 50}, final={"u1": NOW - 50}), {},
                 {"u1": departed_job(1.9, NOW)},
                 TenantLedger(T0, 0.0, {"u1": 1.5}, {"u1": NOW - 50}, final={"u1": NOW - 50}),
                 id="seen deleted again (a resync, a second sighting): nothing is added"),
    pytest.param(TenantLedger(T0, 0.0, {"u1": 1.5}, {"u1": NOW - 50}, final={"u1": NOW - 50}),
                 {"u1": job(3.0)}, {},
                 TenantLedger(T0, 0.0, {"u1": 1.5}, {"u1": NOW - 50}, final={"u1": NOW - 50}),
                 id="a ghost of a final entry's job (a stale body, a charge planned for it) changes nothing"),
    pytest.param(TenantLedger(T0, 0.0, {"u1": 1.5}, {"u1": NOW - GRACE}, final={"u1": NOW - GRACE}), {}, {},
                 TenantLedger(T0, 1.5, {}), id="after its grace a final entry is folded like any closed one"),
    pytest.param(TenantLedger(T0, 0.0, {"u1": 1.5}, {"u1": NOW - 50}, final={"u1": NOW - 50}), {},
                 {"u1": departed_job(1.5, NOW - 50)},
                 TenantLedger(T0, 0.0, {"u1": 1.5}, {"u1": NOW - 50}, final={"u1": NOW - 50}),
                 id="posted again after a restart that still knows the deletion: the same ledger"),
    pytest.param(TenantLedger(T0, 0.0, {}), {}, {"u1": departed_job(0.0, NOW)}, TenantLedger(T0, 0.0, {}),
                 id="a deleted job charged nothing leaves no entry"),
])
def test_post_with_departed_jobs(before: TenantLedger, charges: dict[str, JobCharges],
                                 departed: dict[str, JobCharges], want: TenantLedger) -> None:
    assert post(before, T0, charges, NOW, departed=departed) == want


def test_a_job_deleted_between_two_charges_is_charged_its_whole_run_once() -> None:
    """Charged every 30 s, deleted 20 s after a charge, its deletion then seen again and the ledger posted after a
    lost write: the ledger holds exactly its run time x price x GPUs."""
    charges = JobCharges()
    ledger = post(None, T0, {}, T0)
    for at in (T0 + 30, T0 + 60):
        charges = charge(charges, charges.charged_through or T0, at, EIGHT_AT_2, T0)
        ledger = post(ledger, T0, {"u1": charges}, at)
    last = departure_charge(charges, charges.charged_through, T0 + 79.4, EIGHT_AT_2, T0)
    posted = post(ledger, T0, {}, T0 + 80, departed={"u1": last})
    assert post(ledger, T0, {}, T0 + 81, departed={"u1": last}).jobs == posted.jobs  # the first write was lost
    again = post(posted, T0, {"u1": charges}, T0 + 90, departed={"u1": last})  # a ghost, and the deletion again
    assert again.spend == posted.spend == pytest.approx(16.0 * 80 / HOUR)
