"""Step 5's rules one at a time, as named cases on a one-cycle index of a small cluster: which jobs take the short
way, which wait whatever their classes hold (and why), which gangs can never fit, and who may yield idle capacity."""

from __future__ import annotations

import pytest

from fairshare.core import index
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import Cause, Cycle, PendingJob, RunState
from fairshare.core.share_admission import (
    ShareAdmission,
    blocked_before_classes,
    is_plain,
    may_take_for_yield,
    may_yield,
)
from tests.builders import JobBuilder, cluster, job, tenant

NOW = 10_000.0


def cycle_with(*jobs: JobBuilder) -> Cycle:
    """Two a100 nodes of 8 GPUs at 4 credits; tenants a (budget spent) and b; any job's tenant not in them is
    unknown. A job running since 0 has run long enough; one started at NOW has not."""
    snapshot = (cluster().gpus("a100", nodes=2, per_node=8, price=4.0)
                .tenants(tenant("a").budget(10.0, spent=10.0), tenant("b").guarantee(a100=4)).jobs(*jobs).obj())
    return index.build(snapshot, NOW, PolicyConfig())


def pending(cycle: Cycle, key: str) -> PendingJob:
    return next(p for p in cycle.pending if p.job.key == key)


def running(cycle: Cycle, key: str) -> RunState:
    return next(r for r in cycle.running if r.job.key == key)


@pytest.mark.parametrize(("builder", "plain", "blocked", "cause"), [
    pytest.param(job("b/x"), True, False, None, id="a plain job: short way, not blocked"),
    pytest.param(job("b/x").bid(9.0), False, False, None, id="a bid takes the long way, but is not blocked"),
    pytest.param(job("b/x").classes("h100"), False, True, Cause.NO_CLASS, id="no class of its exists"),
    pytest.param(job("z/x"), True, True, Cause.NO_TENANT, id="its tenant is not defined"),
    pytest.param(job("a/x"), True, True, Cause.BUDGET, id="its tenant's budget is spent"),
    pytest.param(job("b/x").non_preemptible(), False, True, Cause.NONPREEMPTIBLE,
                 id="non-preemptible beyond its guarantee"),
    pytest.param(job("z/x").classes("h100").non_preemptible(), False, True, Cause.NO_CLASS,
                 id="several hold: the first rule in order is noted"),
])
def test_what_a_job_waits_for_whatever_its_classes_hold(builder: JobBuilder, plain: bool, blocked: bool,
                                                        cause: Cause | None) -> None:
    cycle = cycle_with(builder)
    p = pending(cycle, builder.obj().key)
    assert is_plain(p) is plain
    assert blocked_before_classes(cycle, p) is blocked
    assert p.cause is cause


@pytest.mark.parametrize(("builder", "never"), [
    pytest.param(job("b/x").workers(2).gpus(8), False, id="a gang the class holds"),
    pytest.param(job("b/x").gpus(16), True, id="a worker larger than any node"),
    pytest.param(job("b/x").workers(3).gpus(8), True, id="a gang larger than the class"),
])
def test_never_fits(builder: JobBuilder, never: bool) -> None:
    cycle = cycle_with(builder)
    assert ShareAdmission(cycle).never_fits(pending(cycle, "b/x")) is never


@pytest.mark.parametrize(("opportunistic", "started", "yields"), [
    pytest.param(True, 0.0, True, id="on idle capacity, run long enough"),
    pytest.param(True, NOW, False, id="on idle capacity, too young"),
    pytest.param(False, 0.0, False, id="within its share: never yields idle capacity"),
])
def test_may_yield(opportunistic: bool, started: float, yields: bool) -> None:
    cycle = cycle_with(job("b/r").gpus(8).running("a100", "a100-0", started=started, opportunistic=opportunistic))
    config = cycle.config
    assert may_yield(running(cycle, "b/r"), cycle.now, config.min_run_seconds) is yields
    assert [r.job.key for r in ShareAdmission(cycle).yielders["a100"]] == (["b/r"] if yields else [])


@pytest.mark.parametrize(("victim", "preemptor", "gpus", "takes"), [
    pytest.param(job("z/r").gpus(8), job("b/x"), 8, True, id="another tenant's job, no guarantee to keep"),
    pytest.param(job("b/r").gpus(8), job("b/x"), 8, False, id="its own tenant's job of the same priority"),
    pytest.param(job("b/r").gpus(8), job("b/x").priority(1), 4, True,
                 id="its own tenant's job of lower priority, keeping the guarantee"),
    pytest.param(job("b/r").gpus(8), job("z/x"), 8, False, id="not below the victim's own guarantee of 4"),
])
def test_may_take_for_yield(victim: JobBuilder, preemptor: JobBuilder, gpus: int, takes: bool) -> None:
    cycle = cycle_with(victim.running("a100", "a100-0", opportunistic=True), preemptor)
    run, p = running(cycle, victim.obj().key), pending(cycle, preemptor.obj().key)
    assert may_take_for_yield(run, gpus, p) is takes
