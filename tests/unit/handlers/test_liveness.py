"""kopf's real /healthz with the operator's probe: 500 while the cycle watchdog finds the replica expected to
schedule stalled with work pending, 200 otherwise (a follower standing by, work done, cycles completing)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import kopf
import pytest
from kopf._core.engines.probing import health_reporter

from fairshare.control.store import TRAINING_JOBS, Store
from fairshare.control.watchdog import CycleWatchdog
from fairshare.handlers import operator
from fairshare.localcluster.processes import free_port
from tests.unit.control.builders import training_job


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Elector:
    leading: bool
    other_holder: str | None

    def still_leader(self) -> bool:
        return self.leading

    def held_by_another(self) -> str | None:
        return self.other_holder


@dataclasses.dataclass
class Leadership:
    elector: Elector
    loop: Any = None


async def status_of_healthz(runtime: operator.Runtime) -> int:
    port = free_port()
    ready = asyncio.Event()
    server = asyncio.create_task(health_reporter(f"http://127.0.0.1:{port}/healthz", memo=kopf.Memo(),
                                                 indices={},
                                                 registry=kopf.get_default_registry(),
                                                 settings=kopf.OperatorSettings(), ready_flag=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)


@pytest.mark.parametrize(("leading", "other_holder", "pending", "stalled_seconds", "status"), [
    pytest.param(True, None, 2, 31.0, 500, id="leader, stalled past 3 periods with work: fails"),
    pytest.param(False, None, 2, 31.0, 500, id="lost the Lease, no one else holds it, stalled: fails"),
    pytest.param(False, "pod-b", 2, 31.0, 200, id="follower while another leads: passes"),
    pytest.param(True, None, 0, 31.0, 200, id="leader, stalled, nothing pending: passes"),
    pytest.param(True, None, 2, 29.0, 200, id="leader within 3 periods: passes"),
])
def test_healthz(monkeypatch: pytest.MonkeyPatch, leading: bool, other_holder: str | None, pending: int,
                 stalled_seconds: float, status: int) -> None:
    clock = Clock()
    store = Store()
    for i in range(pending):
        store.put(TRAINING_JOBS, training_job(f"a/j{i}").phase("Queued").body())
    store.put(TRAINING_JOBS, training_job("a/done").phase("Succeeded").body())
    leadership: Any = Leadership(Elector(leading, other_holder))
    runtime = operator.Runtime(store=store, leadership=leadership, watchdog=CycleWatchdog(10.0, 3, clock=clock))
    clock.now += stalled_seconds
    monkeypatch.setattr(operator, "RUNTIME", runtime)
    assert asyncio.run(status_of_healthz(runtime)) == status
