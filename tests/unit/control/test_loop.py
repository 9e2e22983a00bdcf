"""SchedulingLoop: a cycle plans on the store, hands the actions to `apply` and records its metrics."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from fairshare.control.actions import Action, PatchStatus
from fairshare.control.loop import LoopSettings, SchedulingLoop
from fairshare.control.plan import Scheduler, default_scheduler
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, Store
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, Preempt, PreemptCause
from fairshare.metrics import OperatorMetrics
from fairshare.render import DEFAULT_SETTINGS
from tests.unit.control.builders import NOW, gpu_class, node, pod, store_of, tenant, training_job, ts, worker
from tests.unit.control.helpers import rows, told


def world() -> Store:
    return store_of(gpu_class("a100").price(2.0), tenant("nlp").guaranteed(a100=8), tenant("cv"),
                    node("a100-000").gpu_class("a100").gpus(8), node("a100-001").gpu_class("a100").gpus(8),
                    training_job("nlp/new").gpus(8),
                    training_job("cv/run").gpus(4).phase("Running").allocation("a100", "a100-001")
                    .cost(accrued_ago=0),
                    worker("cv/run", 0, node_name="a100-001", gpus=4))


class Recorder:
    """A fake `apply`: keeps every batch it is given."""

    def __init__(self) -> None:
        self.batches: list[tuple[Action, ...]] = []

    def __call__(self, actions: tuple[Action, ...]) -> None:
        self.batches.append(actions)


def make_loop(store: Store, apply: Callable[[tuple[Action, ...]], object], metrics: OperatorMetrics,
              resync: Callable[[], None] | None = None, scheduler: Scheduler = default_scheduler,
              **settings: Any) -> SchedulingLoop:
    return SchedulingLoop(store, apply, metrics, PolicyConfig(), DEFAULT_SETTINGS, LoopSettings(**settings),
                          resync=resync, clock=lambda: NOW, scheduler=scheduler)


def sample(metrics: OperatorMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def series(metrics: OperatorMetrics, name: str) -> dict[tuple[str, ...], float]:
    """Every sample of `name`, by its label values (in the order the metric declares its labels)."""
    return {tuple(s.labels.values()): s.value for family in metrics.registry.collect() for s in family.samples
            if s.name == name}


def test_run_cycle_applies_the_plan_and_records_metrics() -> None:
    metrics, recorder = OperatorMetrics(), Recorder()
    loop = make_loop(world(), recorder, metrics)
    plan = asyncio.run(loop.run_cycle("event"))
    assert recorder.batches == [plan.releases, plan.grants, plan.bookkeeping]
    assert rows(plan.actions, "nlp/new") == [("patch", "nlp/new", "Admitted", "1"),
                                             ("ensure", "nlp/new", ("new-worker-0",)),
                                             ("event", "nlp/new", "Normal", "Admitted")]
    assert {
        "cycles event": sample(metrics, "fairshare_cycles_total", trigger="event"),
        "cycles periodic": sample(metrics, "fairshare_cycles_total", trigger="periodic"),
        "admissions": sample(metrics, "fairshare_admissions_total", tenant="nlp", gpu_class="a100"),
        "queue wait count": sample(metrics, "fairshare_queue_wait_seconds_count", tenant="nlp"),
        "queue wait sum": sample(metrics, "fairshare_queue_wait_seconds_sum", tenant="nlp"),
        "pending nlp": sample(metrics, "fairshare_pending_jobs", tenant="nlp"),
        "running cv": sample(metrics, "fairshare_running_jobs", tenant="cv"),
        "capacity": sample(metrics, "fairshare_gpu_capacity", gpu_class="a100"),
        "allocated cv": sample(metrics, "fairshare_gpus_allocated", tenant="cv", gpu_class="a100"),
        "idle": sample(metrics, "fairshare_gpus_idle", gpu_class="a100"),
        "guaranteed nlp": sample(metrics, "fairshare_guaranteed_gpus", tenant="nlp", gpu_class="a100"),
        "price": sample(metrics, "fairshare_price_credits_per_gpu_hour", gpu_class="a100"),
        "total steps": sample(metrics, "fairshare_cycle_duration_seconds_count", step="total"),
    } == {
        "cycles event": 1.0, "cycles periodic": None, "admissions": 1.0, "queue wait count": 1.0,
        # After this cycle's admission of nlp/new (8 GPUs): nothing of nlp pending, 16 - 4 - 8 idle.
        "queue wait sum": 3600.0, "pending nlp": 0.0, "running cv": 1.0, "capacity": 16.0, "allocated cv": 4.0,
        "idle": 4.0, "guaranteed nlp": 8.0, "price": plan.result.prices["a100"], "total steps": 1.0,
    }
    assert loop.cycles == 1
    assert plan.result.share_ratios, "the core reports every tenant's share ratio"
    assert series(metrics, "fairshare_tenant_share_ratio") == {(t,): r for t, r in plan.result.share_ratios.items()}


def test_cycles_count_by_trigger_and_resync_runs_every_n_periodic_cycles() -> None:
    metrics, resyncs = OperatorMetrics(), []
    loop = make_loop(world(), Recorder(), metrics, resync=lambda: resyncs.append(1), resync_every_cycles=2)

    async def cycles() -> None:
        for trigger in ("event", "periodic", "event", "periodic", "periodic", "periodic"):
            await loop.run_cycle(trigger)

    asyncio.run(cycles())
    assert (sample(metrics, "fairshare_cycles_total", trigger="event"),
            sample(metrics, "fairshare_cycles_total", trigger="periodic"), len(resyncs), loop.cycles) == (
        2.0, 4.0, 2, 6)


def test_a_failing_cycle_is_counted_and_the_loop_goes_on() -> None:
    metrics = OperatorMetrics()
    calls: list[int] = []

    def apply(actions: tuple[Action, ...]) -> None:
        calls.append(len(actions))
        if len(calls) == 1:
            raise RuntimeError("API down")

    loop = make_loop(world(), apply, metrics, period_seconds=3600, debounce_seconds=0)

    async def until(condition: Callable[[], bool]) -> None:
        while not condition():
            await asyncio.sleep(0.001)

    async def scenario() -> None:
        task = asyncio.create_task(loop.run())
        try:
            loop.poke()
            await asyncio.wait_for(until(lambda: sample(metrics, "fairshare_reconcile_errors_total",
                                                        operation="cycle") == 1.0), timeout=10)
            loop.poke()
            await asyncio.wait_for(until(lambda: loop.cycles == 1), timeout=10)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
    assert (len(calls), sample(metrics, "fairshare_cycles_total", trigger="event")) == (1 + 3, 1.0), (
        "the failed cycle stopped at its first apply; the next one applied releases, grants and bookkeeping")


@pytest.mark.parametrize(("release_summary", "want_batches", "want_deferred"), [
    pytest.param(None, ["releases", "grants", "bookkeeping"], None, id="apply reports nothing: all applied"),
    pytest.param(SimpleNamespace(conflicts=0, errors=0), ["releases", "grants", "bookkeeping"], None,
                 id="releases all succeeded: grants applied"),
    pytest.param(SimpleNamespace(conflicts=1, errors=0), ["releases", "bookkeeping"], 1.0,
                 id="a release lost a race: grants deferred to the next cycle"),
    pytest.param(SimpleNamespace(conflicts=0, errors=2), ["releases", "bookkeeping"], 1.0,
                 id="a release failed: grants deferred"),
])
def test_grants_wait_for_every_release(release_summary: Any, want_batches: list[str],
                                       want_deferred: float | None) -> None:
    store = world()
    store.put(PODS, worker("cv/run", 0, phase="Succeeded", node_name="a100-001", gpus=4).body())
    metrics, batches = OperatorMetrics(), []

    def apply(actions: tuple[Action, ...]) -> object:
        batches.append(actions)
        return release_summary if len(batches) == 1 else None

    plan = asyncio.run(make_loop(store, apply, metrics).run_cycle("event"))
    groups = [("releases", plan.releases), ("grants", plan.grants), ("bookkeeping", plan.bookkeeping)]
    names = [next(name for name, group in groups if group == batch) for batch in batches]
    assert (plan.releases != () and plan.grants != (), names,
            sample(metrics, "fairshare_reconcile_errors_total", operation="grants-deferred")) == (
        True, want_batches, want_deferred)


def test_spend_budget_usage_and_completions_reach_the_metrics() -> None:
    store = store_of(gpu_class("a100").price(2.0), tenant("nlp").guaranteed(a100=8).budget(100.0)
                     .status(decayedUsageGPUHours=12.5, spendThisPeriod=15.0, usageUpdatedAt=ts(0)),
                     node("a100-000").gpu_class("a100").gpus(8),
                     training_job("nlp/run").gpus(8).phase("Running").allocation("a100", "a100-000")
                     .cost(credits=10.0, accrued_ago=3600),
                     worker("nlp/run", 0, node_name="a100-000", gpus=8),
                     training_job("nlp/done").gpus(8).phase("Running").allocation("a100", "a100-000")
                     .cost(credits=5.0, accrued_ago=0),
                     worker("nlp/done", 0, phase="Succeeded", node_name="a100-000", gpus=8))
    metrics = OperatorMetrics()
    asyncio.run(make_loop(store, Recorder(), metrics).run_cycle("event"))
    charged = sample(metrics, "fairshare_spend_credits_total", tenant="nlp")
    assert charged is not None and charged > 0  # an hour of 8 GPUs at the a100 price since the last accrual
    assert sample(metrics, "fairshare_budget_remaining_credits", tenant="nlp") == 100.0 - 15.0
    assert sample(metrics, "fairshare_decayed_usage_gpu_hours", tenant="nlp") == 12.5
    assert sample(metrics, "fairshare_job_completions_total", tenant="nlp", phase="Succeeded") == 1.0


@pytest.mark.parametrize(("cycles", "want"), [
    pytest.param([{"nlp": 1.04, "cv": 0.5}], {("nlp",): 1.04, ("cv",): 0.5},
                 id="each tenant's ratio, as the core has it"),
    pytest.param([{"nlp": 2.4137, "cv": math.inf}], {("nlp",): 2.4137, ("cv",): math.inf},
                 id="unrounded, and infinite for GPUs held with no entitlement"),
    pytest.param([{"nlp": 1.0, "cv": 1.0}, {"nlp": 0.9}], {("nlp",): 0.9},
                 id="a tenant the core no longer reports stops being exported"),
    pytest.param([{}], {}, id="none reported: no series"),
])
def test_the_share_ratio_gauge_is_the_cores_share_ratios(cycles: list[dict[str, float]],
                                                         want: dict[tuple[str, ...], float]) -> None:
    metrics = OperatorMetrics()
    loop = make_loop(world(), Recorder(), metrics)
    for ratios in cycles:
        loop.scheduler = told(share_ratios=ratios)
        asyncio.run(loop.run_cycle("event"))
    assert series(metrics, "fairshare_tenant_share_ratio") == want


def condition(type_: str, status: str, reason: str, seconds_ago: float) -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": reason,
            "lastTransitionTime": ts(seconds_ago)}


@pytest.mark.parametrize(("conditions", "want_wait"), [
    pytest.param([], 36000.0, id="never waited before: from its submission"),
    pytest.param([condition("Admitted", "False", "Waiting", 35990)], 36000.0,
                 id="never admitted: from its submission, not from its first wait's write"),
    pytest.param([condition("Admitted", "False", "Waiting", 900), condition("Preempted", "False", "Requeued", 600),
                  condition("Running", "False", "Preempted", 900)], 600.0,
                 id="preempted: from its requeue once drained, not from its preemption or submission"),
    pytest.param([condition("Admitted", "False", "Waiting", 700), condition("Preempted", "False", "Requeued", 500),
                  condition("Running", "False", "Preempted", 700)], 500.0,
                 id="preempted a second time: from the latest requeue"),
    pytest.param([condition("Admitted", "False", "Restarting", 300), condition("Preempted", "False", "Admitted", 20000),
                  condition("Running", "False", "Restarting", 300)], 300.0,
                 id="restarted after a worker failed: from the restart, not its first admission"),
    pytest.param([condition("Admitted", "False", "Unschedulable", 120),
                  condition("Preempted", "False", "Admitted", 400)], 120.0,
                 id="an unschedulable gang sent back: from then"),
])
def test_queue_wait_counts_from_the_jobs_latest_entry_to_the_queue(conditions: list[dict[str, str]],
                                                                   want_wait: float) -> None:
    store = store_of(gpu_class("a100").price(2.0), tenant("nlp"), node("a100-000").gpu_class("a100").gpus(8),
                     training_job("nlp/j").gpus(8).created(36000).phase("Queued").status(conditions=conditions))
    metrics = OperatorMetrics()
    admit = Admit("nlp/j", "a100", 1, ("a100-000",), 2.0)
    asyncio.run(make_loop(store, Recorder(), metrics, scheduler=told(admit)).run_cycle("event"))
    assert (sample(metrics, "fairshare_queue_wait_seconds_count", tenant="nlp"),
            sample(metrics, "fairshare_queue_wait_seconds_sum", tenant="nlp")) == (1.0, want_wait)


def preemption_world() -> Store:
    """Three running jobs, one per node: cv/a and cv/b of tenant cv on a100, nlp/c of tenant nlp on h100."""
    jobs = {"cv/a": ("a100", "a100-000"), "cv/b": ("a100", "a100-001"), "nlp/c": ("h100", "h100-000")}
    return store_of(gpu_class("a100"), gpu_class("h100").price(4.0), tenant("nlp"), tenant("cv"),
                    [node(n).gpu_class(c).gpus(8) for c, n in jobs.values()],
                    [training_job(key).gpus(8).phase("Running").allocation(c, n).cost(accrued_ago=0)
                     for key, (c, n) in jobs.items()],
                    [worker(key, 0, node_name=n, gpus=8) for key, (_, n) in jobs.items()])


@pytest.mark.parametrize(("decisions", "want"), [
    pytest.param([Preempt("cv/a", "r", PreemptCause.GUARANTEE), Preempt("cv/b", "r", PreemptCause.FAIR_SHARE),
                  Preempt("nlp/c", "r", PreemptCause.SERVICE)],
                 {("cv", "a100", "guarantee"): 1.0, ("cv", "a100", "fair-share"): 1.0,
                  ("nlp", "h100", "service"): 1.0}, id="one of each cause, counted apart"),
    pytest.param([Preempt("cv/a", "r", PreemptCause.IDLE_YIELD), Preempt("cv/b", "r", PreemptCause.IDLE_YIELD)],
                 {("cv", "a100", "idle-yield"): 2.0}, id="two of one cause add up"),
    pytest.param([Preempt("nlp/c", "r", PreemptCause.FAIR_SHARE)], {("nlp", "h100", "fair-share"): 1.0},
                 id="labelled with the victim's tenant and class"),
    pytest.param([], {}, id="no preemption: no series"),
])
def test_preemptions_are_counted_per_cause(decisions: list[Preempt], want: dict[tuple[str, ...], float]) -> None:
    metrics = OperatorMetrics()
    asyncio.run(make_loop(preemption_world(), Recorder(), metrics, scheduler=told(*decisions)).run_cycle("event"))
    assert series(metrics, "fairshare_preemptions_total") == want


def test_a_gang_stopped_by_a_lost_node_is_counted_as_a_node_loss_preemption() -> None:
    store = preemption_world()
    lost = store.get(NODES, "h100-000")
    assert lost is not None
    store.delete(NODES, lost)
    metrics = OperatorMetrics()
    plan = asyncio.run(make_loop(store, Recorder(), metrics, scheduler=told()).run_cycle("event"))
    assert plan.node_losses == {"nlp/c"}
    assert series(metrics, "fairshare_preemptions_total") == {("nlp", "h100", "node-loss"): 1.0}
    assert series(metrics, "fairshare_gpu_capacity") == {("a100",): 16.0, ("h100",): 0.0}


def gauge_world() -> Store:
    """Two a100 nodes: cv/run holds 4 GPUs of a100-001, a pod of no job holds 2 GPUs of a100-000 in namespace cv, and
    nlp/new (8 GPUs) and nlp/next (4 GPUs) wait."""
    return store_of(gpu_class("a100").price(2.0), tenant("nlp").guaranteed(a100=8), tenant("cv"),
                    node("a100-000").gpu_class("a100").gpus(8), node("a100-001").gpu_class("a100").gpus(8),
                    training_job("nlp/new").gpus(8), training_job("nlp/next").gpus(4),
                    training_job("cv/run").gpus(4).phase("Running").allocation("a100", "a100-001")
                    .cost(accrued_ago=0),
                    worker("cv/run", 0, node_name="a100-001", gpus=4),
                    pod("cv/notebook").on("a100-000").gpus(2).phase("Running"))


@pytest.mark.parametrize(("scheduler", "want_allocated", "want_jobs"), [
    pytest.param(told(Admit("nlp/new", "a100", 1, ("a100-000",), 2.0), prices={"a100": 2.5},
                      fair_shares={"nlp": {"a100": 10.0}, "cv": {"a100": 6.0}}),
                 {("nlp", "a100"): 8, ("cv", "a100"): 4}, {"nlp": (1, 1), "cv": (1, 0)},
                 id="an admission: the GPUs it takes count this cycle"),
    pytest.param(told(Admit("nlp/next", "a100", 1, ("a100-001",), 2.0), Preempt("cv/run", "r", PreemptCause.GUARANTEE),
                      prices={"a100": 3.0}),
                 {("nlp", "a100"): 4}, {"nlp": (1, 1), "cv": (0, 0)},
                 id="a preemption and an admission: the victim's GPUs leave with it"),
    pytest.param(told(), {("cv", "a100"): 4}, {"nlp": (0, 2), "cv": (1, 0)},
                 id="no decision, no price from the core: the list price"),
    pytest.param(default_scheduler, {("nlp", "a100"): 12}, {"nlp": (2, 0), "cv": (0, 0)},
                 id="the core's own decisions"),
])
def test_the_gauges_equal_the_status_written_in_the_same_cycle(scheduler: Scheduler,
                                                               want_allocated: dict[tuple[str, str], int],
                                                               want_jobs: dict[str, tuple[int, int]]) -> None:
    """GPUClass and Tenant status and the gauges, all after the cycle's decisions; want_jobs: (running, pending)."""
    metrics = OperatorMetrics()
    plan = asyncio.run(make_loop(gauge_world(), Recorder(), metrics, scheduler=scheduler).run_cycle("event"))
    patches = {(a.kind, a.key): a.status for a in plan.actions if isinstance(a, PatchStatus)}
    written_class = patches[(GPU_CLASSES, "a100")]
    gauges_class = {
        "capacity": sample(metrics, "fairshare_gpu_capacity", gpu_class="a100"),
        "allocated": sum(v for (_, c), v in series(metrics, "fairshare_gpus_allocated").items() if c == "a100"),
        "foreign": sample(metrics, "fairshare_gpus_foreign", gpu_class="a100"),
        "idle": sample(metrics, "fairshare_gpus_idle", gpu_class="a100"),
        "currentPricePerGPUHour": round(sample(metrics, "fairshare_price_credits_per_gpu_hour", gpu_class="a100")
                                        or -1.0, 6),
    }
    written_tenants = {(t, c): v for t in ("nlp", "cv") for c, v in patches[(TENANTS, t)]["allocated"].items()
                       if v is not None}
    written_shares = {(t, c): v for t in ("nlp", "cv") for c, v in patches[(TENANTS, t)]["fairShare"].items()
                      if v is not None}
    gauge_shares = {k: round(v, 3) for k, v in series(metrics, "fairshare_fair_share_gpus").items()}
    assert (gauges_class, series(metrics, "fairshare_gpus_allocated"), gauge_shares) == (
        {k: written_class[k] for k in gauges_class}, written_tenants, written_shares)
    assert (series(metrics, "fairshare_gpus_allocated"),
            {t: (sample(metrics, "fairshare_running_jobs", tenant=t),
                 sample(metrics, "fairshare_pending_jobs", tenant=t)) for t in ("nlp", "cv")}) == (want_allocated,
                                                                                                   want_jobs)
