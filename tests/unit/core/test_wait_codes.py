"""Every wait carries a stable code: one per cause, CamelCase, and the code the scenario's obstacle calls for."""

from __future__ import annotations

import re

import pytest

from fairshare.core.allocator import schedule
from fairshare.core.cycle import WAIT_CODES, Cause
from fairshare.core.decisions import Wait
from fairshare.core.types import Snapshot
from tests.builders import cluster, job, tenant

NOW = 100_000.0


def test_every_cause_has_a_camel_case_code() -> None:
    assert set(WAIT_CODES) == set(Cause)
    assert [code for code in WAIT_CODES.values() if not re.fullmatch(r"(?:[A-Z][a-z]+)+", code)] == []


@pytest.mark.parametrize(("snapshot", "key", "code"), [
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("nlp").guarantee(a100=8), "cv")
                 .jobs(job("cv/pinned").gpus(8).non_preemptible().running("a100", "a100-0", started=NOW - 600),
                       job("nlp/train").gpus(4)).obj(),
                 "nlp/train", "WaitingForCapacity", id="no room"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("cv").guarantee(a100=2), "nlp")
                 .jobs(job("cv/pinned").gpus(4).non_preemptible(),
                       job("cv/ok").gpus(2).non_preemptible().submitted(1)).obj(),
                 "cv/pinned", "NonPreemptibleBeyondGuarantee", id="non-preemptible beyond the guarantee"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants("a", "b")
                 .jobs([job(f"a/j{i}").submitted(i) for i in range(8)], job("b/lowball").bid(0.3)).obj(),
                 "b/lowball", "BidBelowPrice", id="a bid under the price"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants("a").jobs(job("a/x").classes("h100"))
                 .obj(), "a/x", "NoMatchingClass", id="no such class"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants("a").jobs(job("a/x").gpus(16)).obj(),
                 "a/x", "TooBig", id="a gang no class can hold"),
    pytest.param(cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants("a").jobs(job("ghost/x")).obj(),
                 "ghost/x", "NoTenant", id="an undefined tenant"),
])
def test_a_wait_names_its_obstacle_by_code(snapshot: Snapshot, key: str, code: str) -> None:
    decision = schedule(snapshot, now=NOW).for_job(key)
    assert isinstance(decision, Wait), decision
    assert decision.code == code, decision.reason
