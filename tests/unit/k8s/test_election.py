"""Leader election on an injected clock: who leads after each attempt, when the gate closes, and that no two
replicas' gates are ever open at once, whatever the schedule of attempts, API outages and clock skew."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from fairshare.k8s.election import (
    ElectionSettings,
    LeaderElector,
    LeaseRecord,
    attempt_forever,
    campaign,
    claim_single_instance,
    settings_problems,
)
from tests.unit.k8s.fakes import Clock, FakeLease, elector

# Steps of a script: ("at", seconds since start) moves the shared clock; ("try", who, holds afterwards);
# ("leads", who, still_leader()); ("down"/"up", who) cuts or restores its API connection; ("release", who) resigns
# and hands the Lease over.
Step = tuple[Any, ...]


@dataclasses.dataclass
class Replicas:
    server: FakeLease
    clock: Clock
    electors: dict[str, LeaderElector]

    def run(self, script: list[Step]) -> None:
        start = self.clock.now
        for step in script:
            verb, *args = step
            if verb == "at":
                self.clock.now = start + args[0]
            elif verb == "try":
                who, expected = args
                assert self.electors[who].try_acquire_or_renew() is expected, f"{step} at t={self.clock.now - start}"
            elif verb == "leads":
                who, expected = args
                assert self.electors[who].still_leader() is expected, f"{step} at t={self.clock.now - start}"
            elif verb == "down":
                self.server.down.add(args[0])
            elif verb == "up":
                self.server.down.discard(args[0])
            elif verb == "release":
                self.electors[args[0]].resign()
                assert self.electors[args[0]].release() is args[1]
            else:
                raise AssertionError(f"unknown step {step}")


def replicas(*names: str, offsets: dict[str, float] | None = None, skews: dict[str, float] | None = None,
             **settings: Any) -> Replicas:
    server, clock = FakeLease(), Clock()
    return Replicas(server, clock, {n: elector(server, clock, n, (offsets or {}).get(n, 0.0),
                                               (skews or {}).get(n, 0.0), **settings) for n in names})


# Durations: fakes.CLIENT_GO (lease 15 s, renew deadline 10 s, retry 2 s).
@pytest.mark.parametrize("script", [
    pytest.param([("try", "a", True), ("leads", "a", True), ("try", "b", False), ("leads", "b", False)],
                 id="the first creates the Lease and leads; the second waits"),
    pytest.param([("try", "a", True), ("try", "b", False), ("at", 14.9), ("try", "b", False), ("at", 15.0),
                  ("leads", "a", False), ("try", "b", True), ("leads", "b", True)],
                 id="a follower takes over a Lease it has seen unrenewed for the lease duration"),
    pytest.param([("try", "a", True), ("at", 1), ("try", "b", False), ("at", 8), ("try", "a", True), ("at", 9),
                  ("try", "b", False), ("at", 16.5), ("try", "b", False), ("at", 23.9), ("try", "b", False),
                  ("at", 24), ("try", "b", True)],
                 id="the lease duration counts from when the follower saw the latest renewal"),
    pytest.param([("try", "a", True)] + [step for t in range(2, 61, 2) for step in (("at", t), ("try", "a", True),
                                                                                   ("try", "b", False))]
                 + [("leads", "a", True), ("leads", "b", False)],
                 id="a leader that renews every retry period is never taken over"),
    pytest.param([("try", "a", True), ("try", "b", False), ("down", "a"), ("at", 2), ("try", "a", False),
                  ("leads", "a", True), ("at", 9.99), ("leads", "a", True), ("at", 10), ("leads", "a", False),
                  ("try", "b", False), ("at", 15), ("try", "b", True)],
                 id="a leader cut off from the API stops at the renew deadline, 5 s before a follower may take over"),
    pytest.param([("try", "a", True), ("down", "a"), ("at", 11), ("leads", "a", False), ("up", "a"),
                  ("try", "a", True), ("leads", "a", True)],
                 id="a leader back within the lease takes its own Lease back if nobody else did"),
    pytest.param([("try", "a", True), ("try", "b", False), ("down", "a"), ("at", 15), ("try", "b", True),
                  ("up", "a"), ("at", 16), ("try", "a", False), ("leads", "a", False), ("leads", "b", True)],
                 id="a leader back after a takeover finds it lost the Lease"),
    pytest.param([("try", "a", True), ("try", "b", False), ("at", 3), ("release", "a", True), ("try", "b", True),
                  ("try", "a", False)],
                 id="a released Lease is taken at the next attempt, and the resigned one never leads again"),
    pytest.param([("try", "a", True), ("release", "b", False), ("leads", "a", True)],
                 id="only the holder releases"),
    pytest.param([("try", "a", True), ("try", "b", False), ("try", "c", False), ("at", 15), ("try", "b", True),
                  ("try", "c", False), ("at", 31), ("try", "c", True)],
                 id="of two followers of an expired Lease, one takes it; the other waits for the new holder"),
])
def test_election_scripts(script: list[Step]) -> None:
    replicas("a", "b", "c").run(script)


def test_clocks_skewed_by_hours_change_nothing() -> None:
    """Expiry is judged on each replica's own monotonic clock: wall clocks hours apart (and monotonic clocks with
    unrelated origins) give the same script the same outcome."""
    skewed = replicas("a", "b", offsets={"a": -5e5, "b": 3e6}, skews={"a": -7200.0, "b": 3600.0})
    skewed.run([("try", "a", True), ("try", "b", False), ("at", 14.9), ("try", "b", False), ("at", 15),
                ("try", "b", True), ("leads", "a", False)])


def test_the_lease_records_holder_times_and_transitions() -> None:
    r = replicas("a", "b")
    r.run([("try", "a", True), ("at", 2), ("try", "a", True)])
    first = r.server.record
    assert first is not None and (first.holder, first.transitions, first.lease_duration_seconds) == ("a", 0, 15)
    assert first.renewed_at is not None and first.acquired_at is not None and first.renewed_at - first.acquired_at == 2
    r.run([("try", "b", False), ("at", 20), ("try", "b", True)])
    taken = r.server.record
    assert taken is not None and (taken.holder, taken.transitions) == ("b", 1)
    assert taken.acquired_at == taken.renewed_at
    r.run([("release", "b", True)])
    released = r.server.record
    assert released is not None and (released.holder, released.lease_duration_seconds, released.transitions) == (
        "", 1, 1)


def test_a_restarted_process_with_the_same_identity_takes_its_lease_back_at_once() -> None:
    """A container restarted in its pod keeps the pod's name: it does not wait out its own Lease."""
    server, clock = FakeLease(), Clock()
    assert elector(server, clock, "pod-0").try_acquire_or_renew()
    clock.advance(3)
    restarted = elector(server, clock, "pod-0", offset=-1e4)
    assert restarted.try_acquire_or_renew() and restarted.still_leader()
    assert server.record is not None and server.record.transitions == 0


def test_work_of_an_earlier_term_stays_withdrawn_after_leading_again() -> None:
    r = replicas("a")
    a = r.electors["a"]
    r.run([("try", "a", True)])
    first = a.gate(a.term)
    assert first()
    r.run([("down", "a"), ("at", 10), ("up", "a"), ("try", "a", True)])
    second = a.gate(a.term)
    assert second() and not first(), "a write planned before the gap would act on a stale view"


def test_the_gate_counts_from_when_the_renewal_was_sent() -> None:
    """A renewal answered late (here: 4 s) buys the renew deadline from when it was sent, not answered."""
    server, clock = FakeLease(), Clock()
    slow = elector(server, clock, "a")
    view = slow.lease
    original = view.update

    def late_update(record: LeaseRecord) -> LeaseRecord:
        written = original(record)
        clock.advance(4)
        return written

    assert slow.try_acquire_or_renew()
    view.update = late_update  # type: ignore[method-assign]
    clock.advance(2)
    assert slow.try_acquire_or_renew()
    clock.advance(5.99)
    assert slow.still_leader()
    clock.advance(0.01)
    assert not slow.still_leader()


@pytest.mark.parametrize("seed", range(20))
def test_no_two_gates_are_ever_open_at_once(seed: int) -> None:
    """Random schedules: three replicas attempt at random moments, lose and regain the API, and now and then one
    shuts down (resigns, releases) and a new process with a new identity takes its place; their monotonic clocks
    have unrelated origins. At every moment at most one gate is open, and a new term begins at least lease duration
    - renew deadline after any other replica's gate closed (unless that one released the Lease)."""
    rnd = random.Random(seed)
    server, clock = FakeLease(), Clock()
    slots = {n: elector(server, clock, n, rnd.uniform(-1e6, 1e6)) for n in ("a", "b", "c")}
    closed_at = dict.fromkeys(slots, -1e9)  # when each slot's gate was last seen open (-1e9 after a release)
    t = 0.0
    for step in range(640):
        t += rnd.uniform(0.05, 3.0)
        clock.now = 1000.0 + t
        holder = server.record.holder if server.record else ""
        if step >= 600:  # finally: the holder is cut off, the others keep trying, so the Lease must move
            server.down = {holder}
            slot = rnd.choice([n for n, e in slots.items() if e.identity != holder])
            roll = 1.0
        else:
            slot, roll = rnd.choice(list(slots)), rnd.random()
        replica = slots[slot]
        if roll < 0.08:
            server.down.symmetric_difference_update({replica.identity})
        elif roll < 0.09:
            replica.resign()
            if replica.release():
                closed_at[slot] = -1e9
            slots[slot] = elector(server, clock, f"{slot}{step}", rnd.uniform(-1e6, 1e6))
        else:
            was = replica.leading_term()
            replica.try_acquire_or_renew()
            if replica.leading_term() not in (None, was):  # a new term began now
                for other in slots:
                    if other != slot:
                        assert t - closed_at[other] >= 15 - 10 - 3.0, (seed, t, slot, other)
        open_ = [n for n, e in slots.items() if e.still_leader()]
        assert len(open_) <= 1, (seed, t, open_)
        for n in open_:
            closed_at[n] = t
    assert len(set(server.writes)) > 1, "the schedule should have moved the Lease at least once"


@pytest.mark.parametrize(("settings", "complaint"), [
    pytest.param({"lease_duration_seconds": 10, "renew_deadline_seconds": 10.0}, "lease duration 10 s must be more",
                 id="renew deadline equal to the lease"),
    pytest.param({"renew_deadline_seconds": 2.0, "retry_period_seconds": 2.0}, "renew deadline 2.0 s must be more",
                 id="no room for a retry before the deadline"),
    pytest.param({"retry_period_seconds": 0.0}, "retry period 0.0 s must be > 0", id="no retry period"),
    pytest.param({"identity": ""}, "identity is empty", id="no identity"),
])
def test_unsafe_settings_are_refused_naming_the_variable(settings: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        ElectionSettings(**settings)


def test_the_defaults_are_client_gos_scaled_to_fail_over_within_15_s() -> None:
    defaults = ElectionSettings()
    assert (defaults.lease_duration_seconds, defaults.renew_deadline_seconds, defaults.retry_period_seconds) == (
        12, 8.0, 2.0)
    assert settings_problems(defaults) == []


@pytest.mark.parametrize(("script", "leader", "wait"), [
    pytest.param([("try", "a", True), ("at", 1)], "a", 2.0, id="a leader renews every retry period"),
    pytest.param([("try", "a", True), ("down", "a"), ("at", 9), ("try", "a", False)], "a", 1.0,
                 id="a leader failing to renew wakes at its deadline"),
    pytest.param([("try", "a", True), ("try", "b", False), ("at", 14.7)], "b", 0.3,
                 id="a follower wakes when the Lease expires"),
    pytest.param([("try", "a", True), ("try", "b", False), ("at", 5)], "b", 0.5,
                 id="a follower reads the Lease four times per retry period"),
])
def test_next_attempt(script: list[Step], leader: str, wait: float) -> None:
    r = replicas("a", "b")
    r.run(script)
    assert r.electors[leader].next_attempt_in() == pytest.approx(wait)


def scripted_attempts(r: Replicas, who: str, outage: dict[int, str], attempts: int) -> list[int | None]:
    """Run `attempt_forever` for `who` on the injected clock: each wait advances the clock, and after the attempts
    numbered in `outage` it loses ("down") or regains ("up") the API. Returns the leading term at each `changed`."""
    elector = r.electors[who]
    seen: list[int | None] = []
    done = iter(range(attempts))

    def wait(seconds: float) -> bool:
        step = next(done, None)
        if step is None:
            return True
        r.clock.advance(seconds)
        if step in outage:
            (r.server.down.add if outage[step] == "down" else r.server.down.discard)(who)
        return False

    attempt_forever(elector, lambda: seen.append(elector.leading_term()), threading.Event(), wait)
    return seen


@pytest.mark.parametrize(("outage", "terms"), [
    pytest.param({}, [1], id="a lone replica leads once and stays leader"),
    pytest.param({1: "down", 10: "up"}, [1, None, 2],
                 id="an outage past the deadline ends the term; a new one follows"),
    pytest.param({1: "down", 2: "up"}, [1], id="an outage shorter than the deadline is ridden out"),
])
def test_attempts_report_each_change_of_term(outage: dict[int, str], terms: list[int | None]) -> None:
    assert scripted_attempts(replicas("a", "b"), "a", outage, 14) == terms


@pytest.mark.timeout(30)
def test_campaign_starts_and_stops_the_leaders_work_with_its_terms() -> None:
    r = replicas("a", "b")
    a = r.electors["a"]
    log: list[str] = []
    acted = threading.Semaphore(0)  # the event loop's side has started or stopped the work
    finished = threading.Event()

    def attempts(changed: Callable[[], None], stop: threading.Event) -> None:
        # The thread's side: lead, lose the API past the deadline, lead again; each change told to the event loop,
        # which is given the time to act on it before the next step.
        for step in ("lead", "lose", "lead"):
            if step == "lose":
                r.server.down.add("a")
                r.clock.advance(a.settings.renew_deadline_seconds + 1)
            else:
                r.server.down.discard("a")
            a.try_acquire_or_renew()
            changed()
            assert acted.acquire(timeout=10)
        finished.set()

    async def started(term: int) -> None:
        log.append(f"start {term}")
        acted.release()

    async def stopped() -> None:
        log.append("stop")
        acted.release()

    async def main() -> None:
        task = asyncio.create_task(campaign(a, started, stopped, attempts))
        while not finished.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert log == ["start 1", "stop", "start 2"]


@pytest.mark.timeout(30)
def test_a_busy_event_loop_does_not_delay_renewals() -> None:
    """With the event loop blocked for three renew deadlines (a snapshot of a huge store, a burst of watch events),
    the leader still renews on real time, so its gate stays open and its term does not end."""
    settings = ElectionSettings(identity="a", lease_duration_seconds=2, renew_deadline_seconds=1.0,
                                retry_period_seconds=0.1)
    a = LeaderElector(FakeLease().client("a"), settings)
    terms: list[int] = []

    async def started(term: int) -> None:
        terms.append(term)

    async def main() -> bool:
        task = asyncio.create_task(campaign(a, started, _nothing))
        while not terms:
            await asyncio.sleep(0.01)
        time.sleep(3 * settings.renew_deadline_seconds)  # the event loop blocked
        leading = a.still_leader()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return leading

    assert asyncio.run(main()) is True
    assert terms == [1]
    assert a.term == 1


async def _nothing() -> None:
    return None


def hold(server: FakeLease, clock: Clock, identity: str, renewing: bool) -> Callable[[float], None]:
    """A sleep for claim_single_instance: time passes, and the other holder renews (or not) meanwhile."""
    other = elector(server, clock, identity)
    assert other.try_acquire_or_renew()

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        if renewing:
            other.try_acquire_or_renew()
    return sleep


@pytest.mark.parametrize(("holder", "renewing", "refused_by", "waited"), [
    pytest.param(None, False, None, 0.0, id="no Lease: it is taken at once"),
    pytest.param("live", True, "live", 0.5, id="a holder that renews is alive: refused once a renewal is seen"),
    pytest.param("dead", False, None, 15.0, id="a holder that renews nothing is gone: its Lease is taken over"),
])
def test_without_election_a_second_process_refuses_to_start(holder: str | None, renewing: bool,
                                                            refused_by: str | None, waited: float) -> None:
    server, clock = FakeLease(), Clock()
    sleep = hold(server, clock, holder, renewing) if holder else (lambda s: clock.advance(s))
    second = elector(server, clock, "second", standby=False)
    start = clock.now
    assert claim_single_instance(second, sleep=sleep) == refused_by
    assert clock.now - start == pytest.approx(waited)
    assert second.still_leader() is (refused_by is None)


def test_without_election_an_unreachable_api_is_an_error_not_a_wait_for_ever() -> None:
    server, clock = FakeLease(), Clock()
    server.down.add("second")
    with pytest.raises(TimeoutError, match="could not read or take Lease default/fairshare-operator in 30 s"):
        claim_single_instance(elector(server, clock, "second", standby=False), sleep=clock.advance,
                              give_up_after=30)
