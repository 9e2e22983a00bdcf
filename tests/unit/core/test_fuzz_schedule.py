"""schedule() on degenerate snapshots: no nodes, empty or zero-GPU classes, tenants without jobs, jobs of unknown
classes and tenants, and numbers at the limits the API allows (10^6 GPUs guaranteed, 1024 x 16 GPU gangs, prices
of 10^6, budgets of 10^12). test_properties.py covers clusters the scheduler meets every day; this file covers
the edges, where a division by zero, an overflow or a NaN price would stop every cycle.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, CycleResult, Preempt, Wait
from fairshare.core.types import Allocation, GPUClass, Job, JobPhase, Node, Snapshot, Tenant, Throughput
from fairshare.simulator.replay import apply
from tests.unit.core.helpers import examples, summary
from tests.unit.core.test_properties import check_capacity, check_decisions_are_well_formed, usage

CONFIG = PolicyConfig(price_iterations=30)
CLASS_NAMES = ("a100", "h100", "l4")
TENANT_NAMES = ("cv", "nlp", "rl")

# The extremes the API accepts (see operator/fairshare/api), and a few values just inside them.
PRICES = (1e-6, 0.01, 1.0, 1e6)
POWERS = (0.0, 1.0, 1e4)
SPEEDS = (1e-3, 1.0, 1e3)
NODE_GPUS = (0, 0, 1, 8, 16, 1000)
WEIGHTS = (0.0, 1e-9, 1.0, 1000.0)
GUARANTEES = (0, 1, 8, 10**6)
BUDGETS = (None, None, 1e-9, 1.0, 1e12)
SPENT = (0.0, 1.0, 1e12)
USAGE = (0.0, 1e-9, 1e12)
WORKERS = (1, 1, 2, 8, 1024)
GPUS_PER_WORKER = (1, 2, 8, 16)
BIDS = (None, None, 1e-9, 1.0, 1e6)
PRIORITIES = (-1000, 0, 1000)
RATES = (0.0, 1e-9, 100.0, 1e12)
TIMES = (0.0, 1.0, 1e9)


def _classes(rnd: random.Random) -> tuple[GPUClass, ...]:
    return tuple(GPUClass(n, rnd.choice(PRICES), rnd.choice(POWERS), rnd.choice(SPEEDS))
                 for n in rnd.sample(CLASS_NAMES, rnd.randint(0, 3)))


def _nodes(rnd: random.Random, classes: tuple[GPUClass, ...]) -> tuple[Node, ...]:
    nodes = [Node(f"{c.name}-{i}", c.name, rnd.choice(NODE_GPUS), schedulable=rnd.random() < 0.8)
             for c in classes for i in range(rnd.randint(0, 3))]
    if rnd.random() < 0.2:
        nodes.append(Node("stray-0", "no-such-class", rnd.choice(NODE_GPUS)))  # a node of a class nobody defined
    return tuple(nodes)


def _tenants(rnd: random.Random, classes: tuple[GPUClass, ...]) -> tuple[Tenant, ...]:
    names = [c.name for c in classes] + ["no-such-class"]
    out = []
    for name in rnd.sample(TENANT_NAMES, rnd.randint(0, 3)):
        budget = rnd.choice(BUDGETS)
        limits = None if rnd.random() < 0.5 else {c: rnd.choice(GUARANTEES) for c in names if rnd.random() < 0.5}
        out.append(Tenant(name, weight=rnd.choice(WEIGHTS),
                          guaranteed={c: rnd.choice(GUARANTEES) for c in names if rnd.random() < 0.5},
                          borrowing_limit=limits, budget_per_period=budget,
                          spent_this_period=rnd.choice(SPENT) if budget else 0.0,
                          decayed_usage_gpu_hours=rnd.choice(USAGE)))
    return tuple(out)


def _jobs(rnd: random.Random, n: int, classes: tuple[GPUClass, ...], tenants: tuple[Tenant, ...],
          prefix: str) -> tuple[Job, ...]:
    owners = [t.name for t in tenants] + ["ghost"]
    jobs = []
    for i in range(n):
        low = rnd.choice(WORKERS)
        wanted = rnd.choice([(), ("no-such-class",), tuple(c.name for c in classes if rnd.random() < 0.5)])
        owner = rnd.choice(owners)
        jobs.append(Job(key=f"{owner}/{prefix}{i}", tenant=owner, min_workers=low,
                        max_workers=min(1024, low * rnd.choice((1, 1, 2, 4))),
                        gpus_per_worker=rnd.choice(GPUS_PER_WORKER), gpu_classes=wanted,
                        priority=rnd.choice(PRIORITIES), preemptible=rnd.random() < 0.8,
                        max_price_per_gpu_hour=rnd.choice(BIDS), submitted_at=rnd.choice(TIMES)))
    return tuple(jobs)


@st.composite
def degenerate(draw: st.DrawFn) -> tuple[Snapshot, float]:
    """(snapshot, now): a degenerate cluster after one cycle of the market policy, with new jobs queued on top."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    classes = _classes(rnd)
    nodes = _nodes(rnd, classes)
    tenants = _tenants(rnd, classes)
    jobs = _jobs(rnd, draw(st.integers(0, 8)), classes, tenants, "j")
    throughputs = tuple(Throughput(j.key, c.name, w, rnd.choice(RATES)) for j in jobs if rnd.random() < 0.3
                        for c in classes for w in {j.min_workers, j.max_workers})
    first = Snapshot(classes, nodes, tenants, jobs, throughputs)
    now = rnd.choice(TIMES)
    if not draw(st.booleans()):
        return first, now
    after = apply(first, schedule(first, now, CONFIG), now)
    later = now + rnd.choice((1.0, 3600.0, 1e7))
    return replace(after, jobs=(*after.jobs, *_jobs(rnd, draw(st.integers(0, 4)), classes, tenants, "k"))), later


def check_numbers_are_finite(result: CycleResult) -> None:
    """Prices and fair shares are finite and non-negative, and no reason prints a NaN or an infinity."""
    assert all(math.isfinite(p) and p > 0 for p in result.prices.values()), dict(result.prices)
    for shares in result.fair_shares.values():
        assert all(math.isfinite(v) and v >= -1e-9 for v in shares.values()), dict(shares)
    for d in result.decisions:
        assert math.isfinite(getattr(d, "price_per_gpu_hour", 0.0))
        text = getattr(d, "reason", "")
        assert "nan" not in text.split() and "inf" not in text.split(), text


def check_limits(snapshot: Snapshot, result: CycleResult, now: float) -> None:
    """No tenant is taken over its guarantee + borrowing limit (one already over it is never made worse)."""
    tenants = {t.name: t for t in snapshot.tenants}
    _, before, _ = usage(snapshot)
    _, held, _ = usage(apply(snapshot, result, now))
    for (t, c), gpus in held.items():
        if t in tenants:
            assert gpus <= max(tenants[t].limit(c), before[(t, c)]), (t, c, gpus)
        else:
            assert gpus <= before[(t, c)], "an undefined tenant gets nothing new"


@examples(500)
@given(degenerate())
def test_degenerate_snapshots_schedule_without_error_and_keep_the_invariants(state: tuple[Snapshot, float]) -> None:
    snapshot, now = state
    result = schedule(snapshot, now, CONFIG)
    check_decisions_are_well_formed(snapshot, result)
    check_capacity(snapshot, apply(snapshot, result, now))
    check_limits(snapshot, result, now)
    check_numbers_are_finite(result)
    assert schedule(snapshot, now, CONFIG).decisions == result.decisions, "deterministic"


A100 = GPUClass("a100", 2.5, 400.0)
EIGHT_A100 = tuple(Node(f"a100-{i}", "a100", 8) for i in range(8))


def job(key: str, workers: int = 1, gpus: int = 1, classes: tuple[str, ...] = (), **kw: object) -> Job:
    return Job(key=key, tenant=key.split("/")[0], min_workers=workers, max_workers=workers, gpus_per_worker=gpus,
               gpu_classes=classes, **kw)  # type: ignore[arg-type]


def _outcome(d: object) -> object:
    if isinstance(d, Admit):
        return "admit (idle)" if d.opportunistic else "admit"
    if isinstance(d, Wait | Preempt):
        return (d.job_key, d.reason)
    return type(d).__name__


@pytest.mark.parametrize(("snapshot", "want"), [
    pytest.param(Snapshot(), [], id="nothing at all"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100, tenants=(Tenant("cv"), Tenant("nlp"))), [],
                 id="tenants without jobs"),
    pytest.param(Snapshot(classes=(A100,), tenants=(Tenant("cv"),), jobs=(job("cv/a"),)),
                 [("cv/a", "cannot fit a100 (0 nodes")], id="a class with no nodes"),
    pytest.param(Snapshot(classes=(A100,), nodes=(Node("a100-0", "a100", 0),), tenants=(Tenant("cv"),),
                          jobs=(job("cv/a"),)),
                 [("cv/a", "cannot fit a100")], id="a class whose nodes have no GPUs"),
    pytest.param(Snapshot(classes=(A100,), nodes=tuple(replace(n, schedulable=False) for n in EIGHT_A100),
                          tenants=(Tenant("cv"),), jobs=(job("cv/a"),)),
                 [("cv/a", "a100")], id="every node cordoned"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100, tenants=(Tenant("cv"),),
                          jobs=(job("cv/a", classes=("h200",)),)),
                 [("cv/a", "no GPU class in the cluster matches h200")], id="a job of an unknown class"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100, tenants=(Tenant("cv"),), jobs=(job("ghost/a"),)),
                 [("ghost/a", "tenant ghost is not defined")], id="a job of an unknown tenant"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100, tenants=(Tenant("cv"),), jobs=(job("cv/a", 1, 16),)),
                 [("cv/a", "gang of 1x16 GPUs cannot fit a100 (8 nodes, largest 8 GPUs")],
                 id="a worker larger than every node"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100, tenants=(Tenant("cv", weight=0.0),),
                          jobs=(job("cv/a"),)),
                 ["admit (idle)"], id="the only tenant has weight zero: it runs on idle capacity"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100,
                          tenants=(Tenant("cv", guaranteed={"a100": 10**6}, borrowing_limit={"a100": 10**6}),),
                          jobs=(job("cv/a", 8, 8),)),
                 ["admit"], id="a guarantee of a million GPUs on a cluster of 64"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100, tenants=(Tenant("cv"),),
                          jobs=(job("cv/a", max_price_per_gpu_hour=1e-9),)),
                 [("cv/a", "bid 0.00 < price")], id="a bid far below the floor price"),
    pytest.param(Snapshot(classes=(A100,), nodes=EIGHT_A100,
                          tenants=(Tenant("cv", budget_per_period=1e-9, spent_this_period=1e12),),
                          jobs=(job("cv/a"),)),
                 ["admit (idle)"], id="a budget spent a trillion times over: it runs on idle capacity"),
])
def test_degenerate_cases(snapshot: Snapshot, want: list[object]) -> None:
    """Each case gets its decisions (an admission, or a wait whose reason contains the given words)."""
    result = schedule(snapshot, 0.0, CONFIG)
    check_decisions_are_well_formed(snapshot, result)
    check_numbers_are_finite(result)
    got = [_outcome(d) for d in result.decisions]
    assert len(got) == len(want), got
    for one, wanted in zip(got, want, strict=True):
        if isinstance(wanted, tuple):
            assert isinstance(one, tuple) and one[0] == wanted[0] and wanted[1] in one[1], (one, wanted)
        else:
            assert one == wanted


def test_a_gang_larger_than_its_class_says_it_can_never_fit() -> None:
    snapshot = Snapshot(classes=(A100,), nodes=EIGHT_A100, tenants=(Tenant("cv"),),
                        jobs=(job("cv/a", 9, 8, classes=("a100",)),))
    (decision,) = schedule(snapshot, 0.0, CONFIG).decisions
    assert isinstance(decision, Wait)
    assert "cannot fit a100" in decision.reason, decision.reason


def test_a_gang_larger_than_its_class_is_never_admitted_nor_preempts_anyone() -> None:
    """What such a job gets today: a wait that gives the gang's size, and no job of another tenant is disturbed,
    even though the job's tenant is under its guarantee."""
    running = replace(job("nlp/r", 1, 8, classes=("a100",)), phase=JobPhase.RUNNING,
                      allocation=Allocation("a100", 1, ("a100-0",), started_at=0.0))
    snapshot = Snapshot(classes=(A100,), nodes=EIGHT_A100,
                        tenants=(Tenant("cv", guaranteed={"a100": 64}), Tenant("nlp")),
                        jobs=(job("cv/a", 9, 8, classes=("a100",)), running))
    result = schedule(snapshot, 3600.0, CONFIG)
    assert summary(result) == [("wait", "cv/a", 0)]
    assert "9x8 GPUs" in result.decisions[0].reason  # type: ignore[union-attr]


L4 = GPUClass("l4", 0.8, 72.0)
EIGHT_L4 = tuple(Node(f"l4-{i}", "l4", 4) for i in range(8))


@pytest.mark.parametrize(("jobs", "words"), [
    pytest.param((job("cv/a", classes=("h200",)),),
                 ("no GPU class in the cluster matches h200: change spec.gpuClasses",), id="an unknown class"),
    pytest.param((job("cv/a", 1, 16),),
                 ("gang of 1x16 GPUs cannot fit", "lower spec.gpusPerWorker to 8 or less"),
                 id="a worker larger than every node"),
    pytest.param((job("cv/a", 9, 4, classes=("l4",)),),
                 ("cannot fit l4", "gang needs 9x4 GPUs", "lower spec.workers.min to 8 or less"),
                 id="a plain gang larger than its class"),
    pytest.param((job("cv/a", 9, 4, classes=("l4",), max_price_per_gpu_hour=100.0),),
                 ("cannot fit l4", "lower spec.workers.min to 8 or less"),
                 id="a gang with a bid larger than its class"),
    pytest.param((job("cv/a", 9, 4, classes=("l4",)), job("cv/b", 1, 4, classes=("l4",), submitted_at=1.0)),
                 ("cannot fit l4",), id="a gang too big for its class does not hold up the next job"),
])
def test_a_job_that_can_never_run_names_the_spec_field_to_change(jobs: tuple[Job, ...],
                                                                 words: tuple[str, ...]) -> None:
    snapshot = Snapshot(classes=(A100, L4), nodes=EIGHT_A100 + EIGHT_L4, tenants=(Tenant("cv"),), jobs=jobs)
    result = schedule(snapshot, 0.0, CONFIG)
    wait = result.for_job("cv/a")
    assert isinstance(wait, Wait)
    assert all(w in wait.reason for w in words), wait.reason
    assert all(isinstance(result.for_job(j.key), Admit) for j in jobs[1:])
