"""Operator replicas under leader election, for the failover tests and benchmark: start them, find the leader, kill
it, and time the kill to the next admission by whoever leads next."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from fairshare.localcluster.processes import tail
from tests.support.operator import OperatorProcess
from tests.support.teams import metric
from tests.support.wait import wait_for

LEADER, FOLLOWER = "leader", "follower"


def role(port: int) -> str | None:
    """What the replica on `port` reports (fairshare_replica_role), or None while it is down or not started yet."""
    for name in (LEADER, FOLLOWER):
        if metric(port, "fairshare_replica_role", replica_role=name) == 1:
            return name
    return None


def admissions(port: int) -> float | None:
    return metric(port, "fairshare_admissions_total")


def election_env(lease: str, durations: tuple[float, float, float]) -> dict[str, str]:
    """A Lease of this test's own (no other operator of the session contends for it) and its three durations."""
    duration, deadline, retry = durations
    return {"FAIRSHARE_LEASE_NAME": lease, "FAIRSHARE_LEASE_DURATION_SECONDS": str(int(duration)),
            "FAIRSHARE_RENEW_DEADLINE_SECONDS": str(deadline), "FAIRSHARE_RETRY_PERIOD_SECONDS": str(retry)}


class Replicas:
    """`count` operators sharing one Lease, as the chart's Deployment runs them; `replace` starts a new one (a new
    pod: a new identity) in place of a killed one."""

    def __init__(self, kubeconfig: str, workdir: Path, count: int = 2,
                 durations: tuple[float, float, float] = (12, 8, 2), env: Mapping[str, str] | None = None,
                 args: Sequence[str] = ()) -> None:
        self.kubeconfig, self.workdir = kubeconfig, workdir
        self.env = {**election_env(f"fs-{uuid.uuid4().hex[:8]}", durations), **(env or {})}
        self.args = list(args)
        self.durations = durations
        self.started = 0
        self.procs: list[OperatorProcess] = [self._new() for _ in range(count)]

    def _new(self) -> OperatorProcess:
        self.started += 1
        return OperatorProcess(self.kubeconfig, self.workdir / f"operator-{self.started}.log", self.env, self.args,
                               identity=f"replica-{self.started}-{uuid.uuid4().hex[:4]}")

    def start(self) -> OperatorProcess:
        """Start every replica, the first alone until it leads; returns the leader once the others stand by."""
        self.procs[0].start()
        leader = wait_for(lambda: self.procs[0] if role(self.procs[0].metrics_port) == LEADER else None,
                          timeout=90 + self.durations[0], what=lambda: self.describe())
        for proc in self.procs[1:]:
            proc.start()
        self.wait_warm()
        return leader

    def wait_warm(self, timeout: float = 90.0) -> None:
        """Every live replica answers: exactly one leads, the others follow."""
        def settled() -> bool:
            roles = [role(p.metrics_port) for p in self.procs]
            return None not in roles and roles.count(LEADER) == 1
        wait_for(settled, timeout=timeout, what=lambda: self.describe())

    def leader(self) -> OperatorProcess | None:
        leaders = [p for p in self.procs if p.alive() and role(p.metrics_port) == LEADER]
        assert len(leaders) <= 1, f"two replicas report that they lead: {self.describe()}"
        return leaders[0] if leaders else None

    def others(self, proc: OperatorProcess) -> list[OperatorProcess]:
        return [p for p in self.procs if p is not proc]

    def replace(self, dead: OperatorProcess) -> OperatorProcess:
        """A new replica (a new pod, a new identity) in place of a dead one; started, not waited for."""
        fresh = self._new()
        self.procs[self.procs.index(dead)] = fresh
        fresh.start()
        return fresh

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()

    def describe(self) -> str:
        return "; ".join(f"{p.identity}: {'up' if p.alive() else 'down'}, {role(p.metrics_port)}, log tail:\n"
                         f"{tail(p.log, 8)}" for p in self.procs)


def time_to_next_admission(killed_at: float, candidates: Sequence[OperatorProcess], timeout: float,
                           meanwhile: Callable[[], None] = lambda: None, interval: float = 0.1) -> tuple[float, str]:
    """Seconds from `killed_at` (time.monotonic) to the first admission a candidate completes after it, and the
    candidate's identity. `meanwhile` runs about every half second (the invariant checker)."""
    before = {p.identity: admissions(p.metrics_port) or 0.0 for p in candidates}
    last_meanwhile = 0.0
    while True:
        now = time.monotonic()
        for proc in candidates:
            count = admissions(proc.metrics_port)
            if count is not None and count > before[proc.identity]:
                return time.monotonic() - killed_at, proc.identity
        if now - last_meanwhile >= 0.5:
            meanwhile()
            last_meanwhile = now
        assert now - killed_at < timeout, f"no admission {timeout:.0f} s after the kill"
        time.sleep(interval)
