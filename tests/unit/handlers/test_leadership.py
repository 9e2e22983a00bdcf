"""The leader's term of office: a LIST taken after the term began before the first plan, the loop and collector run
only while leading, withdrawn (and their figures forgotten) when the term ends, the Lease handed over on shutdown."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from fairshare.control.loop import SchedulingLoop
from fairshare.handlers.leadership import Leadership
from fairshare.k8s.election import LeaderElector
from fairshare.k8s.lease import WriteGate
from fairshare.metrics import OperatorMetrics
from tests.unit.k8s.fakes import Clock, FakeLease, elector


class FakeLoop:
    """Stands in for the scheduling loop: runs until cancelled, records pokes and what happened."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def poke(self) -> None:
        self.log.append("poke")

    async def run(self) -> None:
        self.log.append("loop running")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.log.append("loop cancelled")
            raise


class Office:
    """A Leadership over a FakeLease, logging LISTs and the work it starts."""

    def __init__(self, identity: str = "a", **settings: Any) -> None:
        self.server, self.clock = FakeLease(), Clock()
        self.elector: LeaderElector = elector(self.server, self.clock, identity, **settings)
        self.metrics = OperatorMetrics()
        self.log: list[str] = []
        self.gates: list[WriteGate] = []
        self.exits = 0
        self.leadership = Leadership(self.elector, self.metrics, lambda: self.log.append("LIST"), self.work,
                                     request_exit=self.exit)

    def work(self, gate: WriteGate) -> tuple[SchedulingLoop, list[Any]]:
        self.gates.append(gate)
        self.log.append("work built")
        loop = FakeLoop(self.log)
        return cast(SchedulingLoop, loop), [loop.run()]

    def exit(self) -> None:
        self.exits += 1

    def role(self) -> dict[str, float | None]:
        return {r: self.metrics.registry.get_sample_value("fairshare_replica_role", {"replica_role": r})
                for r in ("leader", "follower")}


async def settle() -> None:
    for _ in range(20):  # let the term's task run up to where it waits (to_thread hops need a few turns)
        await asyncio.sleep(0.01)


def test_a_takeover_lists_again_before_its_first_plan_and_leads_until_stopped() -> None:
    office = Office()

    async def scenario() -> None:
        office.leadership.synced()  # the follower's startup LIST
        office.clock.advance(30)
        assert office.elector.try_acquire_or_renew()
        assert office.role() == {"leader": 0, "follower": 1}
        await office.leadership.start(office.elector.term)
        await settle()
        assert office.log == ["LIST", "LIST", "work built", "poke", "loop running"]
        assert office.role() == {"leader": 1, "follower": 0}
        assert office.gates[0].allowed()
        office.metrics.price.labels(gpu_class="a100").set(2.5)
        office.metrics.last_cycle.set(1234.0)
        await office.leadership.stop()
        assert office.log[-1] == "loop cancelled"
        assert office.role() == {"leader": 0, "follower": 1}
        assert office.metrics.registry.get_sample_value("fairshare_price_credits_per_gpu_hour",
                                                        {"gpu_class": "a100"}) is None, "no stale cycle figures"
        assert office.metrics.registry.get_sample_value("fairshare_last_cycle_timestamp_seconds") == 1234.0

    asyncio.run(scenario())
    assert office.exits == 0


def test_a_process_that_leads_at_start_schedules_from_its_first_list() -> None:
    office = Office()

    async def scenario() -> None:
        assert office.elector.try_acquire_or_renew()
        office.clock.advance(0.5)
        office.leadership.synced()  # startup's LIST, after the first attempt won
        await office.leadership.start(office.elector.term)
        await settle()
        assert office.log == ["LIST", "work built", "poke", "loop running"]
        await office.leadership.stop()

    asyncio.run(scenario())


def test_without_election_losing_the_lease_to_another_exits_instead_of_standing_by() -> None:
    office = Office(standby=False)
    other = elector(office.server, office.clock, "b")

    async def scenario() -> None:
        assert office.elector.try_acquire_or_renew()
        office.leadership.synced()
        await office.leadership.start(office.elector.term)
        await settle()
        assert not other.try_acquire_or_renew()
        office.clock.advance(16)
        assert other.try_acquire_or_renew()
        assert not office.elector.try_acquire_or_renew()
        await office.leadership.stop()

    asyncio.run(scenario())
    assert (office.exits, office.leadership.exit_code) == (1, 1)


def test_with_election_losing_the_lease_stands_by() -> None:
    office = Office()
    other = elector(office.server, office.clock, "b")

    async def scenario() -> None:
        assert office.elector.try_acquire_or_renew()
        await office.leadership.start(office.elector.term)
        await settle()
        other.try_acquire_or_renew()
        office.clock.advance(16)
        assert other.try_acquire_or_renew()
        await office.leadership.stop()

    asyncio.run(scenario())
    assert (office.exits, office.leadership.exit_code) == (0, 0)


def test_shutdown_shuts_the_gate_and_hands_the_lease_over() -> None:
    office = Office()

    async def scenario() -> None:
        assert office.elector.try_acquire_or_renew()
        office.leadership.synced()
        await office.leadership.start(office.elector.term)
        await settle()
        gate = office.gates[0]
        await office.leadership.shutdown()
        assert not gate.allowed()

    asyncio.run(scenario())
    assert office.server.record is not None and office.server.record.holder == ""
    assert office.log[-1] == "loop cancelled"
    assert not office.elector.try_acquire_or_renew(), "a resigned process never leads again"
