"""Leader election on a Lease with client-go's semantics, and the gate on every write: the leader acts only until
its last successful renewal plus the renew deadline, on its own monotonic clock, which is before the Lease can expire.

Why two leaders never overlap. A candidate takes the Lease over only once it has seen the same record (the same
resourceVersion) for the record's `leaseDurationSeconds` on its own clock, and only with a write conditional on that
resourceVersion. The leader's last renewal was written after the leader sent it (at `sent`), so the candidate first
saw that record after `sent`, and takes over at `sent + leaseDuration` at the earliest. The leader's gate closed at
`sent + renewDeadline`. Between the two lie `leaseDuration - renewDeadline` seconds (4 s by default) for a write
that passed the gate to reach the API server. Only the length of intervals is compared, each on one machine's
monotonic clock, so wall-clock skew between machines does not matter; clock *rates* would have to differ by more
than that margin over the lease duration (a third) to matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT_LEASE_NAME = "fairshare-operator"
JITTER_FACTOR = 1.2  # client-go's: the renew deadline must leave room for more than one retry
FOLLOWER_READS_PER_RETRY = 4  # a follower sees each renewal within a quarter of the retry period


@dataclasses.dataclass(frozen=True)
class ElectionSettings:
    """client-go's LeaderElectionConfig: a candidate takes over a Lease it has seen unchanged for `lease_duration`;
    the leader renews every `retry_period` and acts only until `renew_deadline` after its last renewal; candidates
    retry every `retry_period`. `standby` False (no election): the process must be the only one, so it refuses to
    start while another live process holds the Lease, and exits if another takes it."""

    namespace: str = "default"
    name: str = DEFAULT_LEASE_NAME
    identity: str = "fairshare-operator"
    # client-go's usual 15 / 10 / 2 scaled to 12 / 8 / 2: a failover takes about the lease duration plus the new
    # leader's first cycle, which a 15 s lease cannot fit in 15 s (docs/reliability.md, "Failover").
    lease_duration_seconds: int = 12
    renew_deadline_seconds: float = 8.0
    retry_period_seconds: float = 2.0
    standby: bool = True

    def __post_init__(self) -> None:
        problems = settings_problems(self)
        if problems:
            raise ValueError("; ".join(problems))


def settings_problems(s: ElectionSettings) -> list[str]:
    """Rule (client-go's): lease duration > renew deadline > 1.2 x retry period > 0, and an identity to write."""
    problems = []
    if not s.identity:
        problems.append("the leader election identity is empty (FAIRSHARE_LEADER_ELECTION_IDENTITY)")
    if s.retry_period_seconds <= 0:
        problems.append(f"retry period {s.retry_period_seconds} s must be > 0 (FAIRSHARE_RETRY_PERIOD_SECONDS)")
    if s.renew_deadline_seconds <= JITTER_FACTOR * s.retry_period_seconds:
        problems.append(f"renew deadline {s.renew_deadline_seconds} s must be more than {JITTER_FACTOR} x the retry "
                        f"period {s.retry_period_seconds} s (FAIRSHARE_RENEW_DEADLINE_SECONDS)")
    if s.lease_duration_seconds <= s.renew_deadline_seconds:
        problems.append(f"lease duration {s.lease_duration_seconds} s must be more than the renew deadline "
                        f"{s.renew_deadline_seconds} s: the difference is the time a write may take to land "
                        f"(FAIRSHARE_LEASE_DURATION_SECONDS)")
    return problems


@dataclasses.dataclass(frozen=True)
class LeaseRecord:
    """A Lease's spec as the election reads and writes it. Times are Unix seconds, for people to read: they are never
    compared across machines (expiry is judged by when a candidate saw the record change, on its own clock)."""

    holder: str  # "" once released
    lease_duration_seconds: int
    acquired_at: float | None
    renewed_at: float | None
    transitions: int
    resource_version: str = ""


class LeaseConflict(Exception):
    """The Lease was written (or created) by someone else since we read it."""


class LeaseClient(Protocol):
    def get(self) -> LeaseRecord | None: ...  # None: no Lease yet

    def create(self, record: LeaseRecord) -> LeaseRecord: ...  # LeaseConflict if it exists

    def update(self, record: LeaseRecord) -> LeaseRecord: ...  # only at record.resource_version, else LeaseConflict


class LeaderElector:
    """One replica's side of the election: `try_acquire_or_renew` is one attempt (call it from a worker thread);
    `still_leader` and `gate(term)` may be called from any thread, as often as every write."""

    def __init__(self, lease: LeaseClient, settings: ElectionSettings,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.lease, self.settings, self.clock, self.wall = lease, settings, clock, wall
        self.observed: LeaseRecord | None = None
        self.observed_at = 0.0  # our clock when `observed` (its resourceVersion) was first seen
        self.term = 0  # how many times this process has become leader; the current term while leading
        self.acquired_at: float | None = None  # our clock when the current term's first write was sent
        self._leading_until: float | None = None
        self._resigned = False
        self._attempt = threading.Lock()

    @property
    def identity(self) -> str:
        return self.settings.identity

    def still_leader(self) -> bool:
        """True until the renew deadline after the last renewal (counted from when it was sent)."""
        until = self._leading_until
        return until is not None and self.clock() < until

    def leading_term(self) -> int | None:
        return self.term if self.still_leader() else None

    def gate(self, term: int) -> Callable[[], bool]:
        """Whether a write planned in `term` may go out now: still leader, and in the same term (work planned in an
        earlier term, before a gap in leadership, is withdrawn even once this process leads again)."""
        return lambda: self.term == term and self.still_leader()

    def held_by_another(self) -> str | None:
        """The identity of another replica holding the Lease as last seen, else None."""
        seen = self.observed
        return seen.holder if seen is not None and seen.holder and seen.holder != self.identity else None

    def try_acquire_or_renew(self) -> bool:
        """client-go's tryAcquireOrRenew: create the Lease, renew ours, or take over one that expired or was
        released. True when this process holds it afterwards (and its gate is open until the new deadline)."""
        with self._attempt:
            if self._resigned:
                return False
            try:
                current = self.lease.get()
            except Exception as exc:  # noqa: BLE001 - the API is away: a leader acts until its deadline, then stops
                log.warning("reading Lease %s/%s failed: %s", self.settings.namespace, self.settings.name, exc)
                return False
            now = self.clock()
            if current is None:
                wall = self.wall()
                return self._write(self.lease.create, LeaseRecord(self.identity, self.settings.lease_duration_seconds,
                                                                  wall, wall, 0))
            if self.observed is None or current.resource_version != self.observed.resource_version:
                self.observed, self.observed_at = current, now
            mine = current.holder == self.identity
            if current.holder and not mine and now < self.observed_at + current.lease_duration_seconds:
                self._leading_until = None  # held by another: if we thought we led, we lost it
                return False
            wall = self.wall()
            return self._write(self.lease.update, LeaseRecord(
                self.identity, self.settings.lease_duration_seconds, current.acquired_at if mine else wall, wall,
                current.transitions if mine else current.transitions + 1, current.resource_version))

    def _write(self, call: Callable[[LeaseRecord], LeaseRecord], record: LeaseRecord) -> bool:
        sent = self.clock()
        try:
            written = call(record)
        except LeaseConflict:
            return False
        except Exception as exc:  # noqa: BLE001 - as for a failed read
            log.warning("writing Lease %s/%s failed: %s", self.settings.namespace, self.settings.name, exc)
            return False
        self.observed, self.observed_at = written, self.clock()
        if not self.still_leader():
            self.term += 1
            self.acquired_at = sent
            log.info("leading as %s (term %d, Lease %s/%s, %d transitions)", self.identity, self.term,
                     self.settings.namespace, self.settings.name, written.transitions)
        self._leading_until = sent + self.settings.renew_deadline_seconds
        return True

    def next_attempt_in(self) -> float:
        """Seconds to the next attempt. The leader renews every retry period, sooner if its gate would close first
        (to stop the work it guards). A follower reads the Lease four times as often, and again at the moment it
        would expire: a renewal it sees late delays a takeover by as much, and reads are cheap (it writes only to
        take an expired Lease over)."""
        now = self.clock()
        wait = self.settings.retry_period_seconds
        if self._leading_until is not None and now < self._leading_until:
            return max(0.0, min(wait, self._leading_until - now))
        wait /= FOLLOWER_READS_PER_RETRY
        seen = self.observed
        if seen is not None and seen.holder and seen.holder != self.identity:
            wait = min(wait, self.observed_at + seen.lease_duration_seconds - now)
        return max(0.01, wait)

    def resign(self) -> None:
        """Close the gate now and never lead again (shutdown). `release` then hands the Lease over."""
        with self._attempt:
            self._resigned = True
            self._leading_until = None

    def release(self) -> bool:
        """Hand the Lease over (client-go's ReleaseOnCancel): if ours, write it with no holder, so a candidate takes
        it at its next attempt rather than after the lease duration. Call only after `resign` and once writes that
        passed the gate have ended."""
        with self._attempt:
            seen = self.observed
            if seen is None or seen.holder != self.identity:
                return False
            wall = self.wall()
            try:
                self.observed = self.lease.update(LeaseRecord("", 1, wall, wall, seen.transitions,
                                                              seen.resource_version))
            except Exception as exc:  # noqa: BLE001 - it will expire instead
                log.warning("releasing Lease %s/%s failed (it expires instead): %s", self.settings.namespace,
                            self.settings.name, exc)
                return False
            log.info("released Lease %s/%s", self.settings.namespace, self.settings.name)
            return True


def attempt_forever(elector: LeaderElector, changed: Callable[[], None], stop: threading.Event,
                    wait: Callable[[float], bool] | None = None) -> None:
    """Attempt every `next_attempt_in` (a retry period, sooner at a deadline or an expiry) until `stop` is set, and
    call `changed` after each attempt that leaves the leading term different. Runs on a thread of its own, so that a
    busy event loop (a snapshot of 15,000 jobs, a burst of watch events) cannot delay a renewal past the deadline."""
    wait = wait or stop.wait
    term: int | None = None
    while not stop.is_set():
        elector.try_acquire_or_renew()
        now = elector.leading_term()
        if now != term:
            term = now
            changed()
        if wait(elector.next_attempt_in()):
            return


async def campaign(elector: LeaderElector, on_started: Callable[[int], Awaitable[None]],
                   on_stopped: Callable[[], Awaitable[None]],
                   attempts: Callable[[Callable[[], None], threading.Event], None] | None = None) -> None:
    """Run for ever: the attempts on their own thread (`attempt_forever`), and on the event loop start or stop the
    leader's work as terms begin and end. The callbacks must return at once (start a task, cancel one). The gate
    needs none of this: it closes on the clock at the deadline, however late the event loop hears of it."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    stop = threading.Event()

    def changed() -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is already closed: nothing left to tell
            loop.call_soon_threadsafe(wake.set)

    run = attempts or (lambda tell, stopped: attempt_forever(elector, tell, stopped))
    threading.Thread(target=run, args=(changed, stop), name="fairshare-election", daemon=True).start()
    running: int | None = None
    try:
        while True:
            wake.clear()
            term = elector.leading_term()
            if running is not None and term != running:
                running = None
                await on_stopped()
            if term is not None and running is None:
                running = term
                await on_started(term)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives as the
            # event is set, and this task is cancelled at shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(elector.settings.retry_period_seconds):
                    await wake.wait()
    finally:
        stop.set()


def claim_single_instance(elector: LeaderElector, sleep: Callable[[float], None] = time.sleep,
                          give_up_after: float = 120.0) -> str | None:
    """For a process run without election: take the Lease, or find that another live process holds it. Returns
    None once the Lease is ours, or the live holder's identity: one seen to renew it while we waited. A holder that
    renews nothing for the lease duration is gone, and its Lease is taken over."""
    first: LeaseRecord | None = None
    deadline = elector.clock() + give_up_after
    while True:
        if elector.try_acquire_or_renew():
            return None
        seen, holder = elector.observed, elector.held_by_another()
        if seen is not None and holder:
            if first is None or first.holder != seen.holder:
                first = seen
            elif seen.resource_version != first.resource_version:
                return holder
        if elector.clock() > deadline:
            raise TimeoutError(f"could not read or take Lease {elector.settings.namespace}/{elector.settings.name} "
                               f"in {give_up_after:.0f} s")
        sleep(elector.next_attempt_in())
