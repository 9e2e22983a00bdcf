"""An in-memory Lease that several electors share, and clocks a test moves by hand."""

from __future__ import annotations

import dataclasses

from fairshare.k8s.election import ElectionSettings, LeaderElector, LeaseConflict, LeaseRecord


class Clock:
    """One timeline for every elector; each elector's monotonic clock is it plus that elector's offset, and its wall
    clock is skewed by its own amount (neither may matter)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def offset(self, seconds: float) -> FixedOffset:
        return FixedOffset(self, seconds)


@dataclasses.dataclass
class FixedOffset:
    clock: Clock
    seconds: float

    def __call__(self) -> float:
        return self.clock.now + self.seconds


class FakeLease:
    """The API server's side: one Lease object with a resourceVersion that every write bumps; updates are
    conditional on it. `down` makes every call of the named identities fail, as a partition from the API would."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.writes: list[str] = []  # holder of each write, in order
        self.down: set[str] = set()

    def client(self, identity: str) -> LeaseView:
        return LeaseView(self, identity)


@dataclasses.dataclass
class LeaseView:
    """One elector's connection to the FakeLease."""

    server: FakeLease
    identity: str

    def _reachable(self) -> None:
        if self.identity in self.server.down:
            raise ConnectionError(f"{self.identity} cannot reach the API server")

    def _store(self, record: LeaseRecord) -> LeaseRecord:
        self.server.version += 1
        self.server.record = dataclasses.replace(record, resource_version=str(self.server.version))
        self.server.writes.append(record.holder)
        return self.server.record

    def get(self) -> LeaseRecord | None:
        self._reachable()
        return self.server.record

    def create(self, record: LeaseRecord) -> LeaseRecord:
        self._reachable()
        if self.server.record is not None:
            raise LeaseConflict("exists")
        return self._store(record)

    def update(self, record: LeaseRecord) -> LeaseRecord:
        self._reachable()
        if self.server.record is None or record.resource_version != self.server.record.resource_version:
            raise LeaseConflict("changed")
        return self._store(record)


# The scripts' durations: client-go's usual lease 15 s, renew deadline 10 s, retry period 2 s.
CLIENT_GO: dict[str, object] = {"lease_duration_seconds": 15, "renew_deadline_seconds": 10.0,
                                "retry_period_seconds": 2.0}


def elector(server: FakeLease, clock: Clock, identity: str, offset: float = 0.0, wall_skew: float = 0.0,
            **settings: object) -> LeaderElector:
    """An elector for `identity` on the shared lease, with CLIENT_GO's durations unless `settings` say otherwise;
    its clocks are the shared one shifted by `offset` (monotonic) and `wall_skew` (wall)."""
    config = ElectionSettings(identity=identity, **{**CLIENT_GO, **settings})  # type: ignore[arg-type]
    return LeaderElector(server.client(identity), config, clock=clock.offset(offset),
                         wall=clock.offset(wall_skew - 900.0 + 1.7e9))
