"""Bounded grant batches: grants go out in chunks of whole objects, and a plan whose budget is spent while new
TrainingJobs wait leaves its remaining admissions to a fresh plan; transitions that free no GPUs come after grants."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from fairshare.control.actions import Action, DeletePods, EnsureChildren, PatchStatus, RecordEvent, action_key
from fairshare.control.loop import LoopSettings, SchedulingLoop, cut_grants, may_leave_out, object_chunks
from fairshare.control.store import PODS, TRAINING_JOBS, Store
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Preempt
from fairshare.metrics import OperatorMetrics
from fairshare.render import DEFAULT_SETTINGS
from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, training_job, worker
from tests.unit.control.helpers import plan, rows, told


def patch(key: str) -> PatchStatus:
    return PatchStatus(TRAINING_JOBS, key, {"phase": "Admitted"}, "1")


def ensure(key: str) -> EnsureChildren:
    return EnsureChildren(key, None, ())


def event(key: str) -> RecordEvent:
    return RecordEvent(key, "Normal", "Admitted", "")


def keys(chunks: list[tuple[Action, ...]]) -> list[list[str]]:
    return [[f"{type(a).__name__}:{action_key(a)}" for a in chunk] for chunk in chunks]


# --- chunks -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("actions", "size", "want"), [
    pytest.param([], 2, [], id="nothing to apply: no chunk"),
    pytest.param([patch("a"), ensure("a"), event("a"), patch("b"), ensure("b")], 1,
                 [["PatchStatus:a", "EnsureChildren:a", "RecordEvent:a"], ["PatchStatus:b", "EnsureChildren:b"]],
                 id="an object's actions stay together, in order"),
    pytest.param([patch("a"), patch("b"), patch("c")], 2, [["PatchStatus:a", "PatchStatus:b"], ["PatchStatus:c"]],
                 id="at most size objects a chunk"),
    pytest.param([patch("a"), patch("b"), ensure("a")], 1,
                 [["PatchStatus:a", "EnsureChildren:a"], ["PatchStatus:b"]],
                 id="an object's later action joins its first, objects in order of first appearance"),
    pytest.param([patch("a"), patch("b")], 0, [["PatchStatus:a"], ["PatchStatus:b"]],
                 id="a size below one is one"),
])
def test_object_chunks(actions: list[Action], size: int, want: list[list[str]]) -> None:
    assert keys(object_chunks(actions, size)) == want


# --- when to leave the rest to a fresh plan ----------------------------------------------------------------------

ADMISSIONS = [(patch("b"), ensure("b"), event("b"))]
RESTART = [(patch("b"), DeletePods("b", ("b-worker-0",)), ensure("b"))]


@pytest.mark.parametrize(("elapsed", "budget", "arrived", "rest", "want"), [
    pytest.param(6.0, 5.0, True, ADMISSIONS, True, id="budget spent, new jobs, admissions left: re-plan"),
    pytest.param(4.0, 5.0, True, ADMISSIONS, False, id="budget not spent: go on"),
    pytest.param(6.0, 5.0, False, ADMISSIONS, False, id="nothing new arrived: a fresh plan would decide the same"),
    pytest.param(6.0, 0.0, True, ADMISSIONS, False, id="no budget: never cut"),
    pytest.param(6.0, 5.0, True, [], False, id="nothing left"),
    pytest.param(6.0, 5.0, True, RESTART, False,
                 id="a restart left deletes pods an applied grant may count on: finish the plan"),
])
def test_cut_grants(elapsed: float, budget: float, arrived: bool, rest: list[tuple[Action, ...]], want: bool) -> None:
    assert cut_grants(elapsed, budget, arrived, rest) is want


def test_may_leave_out_only_grants_that_free_nothing() -> None:
    assert (may_leave_out(ADMISSIONS), may_leave_out(RESTART), may_leave_out([])) == (True, False, True)


# --- the loop ------------------------------------------------------------------------------------------------------

def pending_world(jobs: int) -> Store:
    return store_of(gpu_class("a100").price(2.0), tenant("nlp"), node("n0").gpu_class("a100").gpus(8),
                    *[training_job(f"nlp/j{i}").gpus(1) for i in range(jobs)])


class Clock:
    """A timer the test moves: each grant batch applied takes `step` seconds."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now


def run_one_cycle(store: Store, budget: float, step: float, on_grant: Callable[[int], None] | None = None,
                  ) -> tuple[list[list[Any]], OperatorMetrics, SchedulingLoop]:
    """One cycle with grants in chunks of 2 jobs; each apply advances the timer by `step`."""
    metrics, timer, batches = OperatorMetrics(), Clock(step), []

    def apply(actions: tuple[Action, ...]) -> None:
        batches.append(rows(actions))
        timer.now += timer.step
        if on_grant is not None and any(isinstance(a, EnsureChildren) for a in actions):
            on_grant(len(batches))

    loop = SchedulingLoop(store, apply, metrics, PolicyConfig(), DEFAULT_SETTINGS,
                          LoopSettings(grant_chunk_objects=2, grant_budget_seconds=budget), clock=lambda: NOW,
                          timer=timer)
    asyncio.run(loop.run_cycle("event"))
    return batches, metrics, loop


def admitted(batches: list[list[Any]]) -> list[str]:
    """Jobs whose children were created, in order."""
    return [r[1] for batch in batches for r in batch if r[0] == "ensure"]


def admissions(batches: list[list[Any]]) -> list[str]:
    """Jobs whose status was patched to Admitted, in order."""
    return [r[1] for batch in batches for r in batch if r[:1] == ("patch",) and r[2] == "Admitted"]


def test_a_spent_budget_with_new_jobs_leaves_the_rest_to_a_fresh_plan() -> None:
    store = pending_world(6)

    def a_job_arrives(_: int) -> None:
        store.put(TRAINING_JOBS, training_job("nlp/late").gpus(1).body())

    batches, metrics, loop = run_one_cycle(store, budget=1.0, step=1.0, on_grant=a_job_arrives)
    assert admitted(batches) == ["nlp/j0", "nlp/j1"], "one chunk of two, then the budget was spent"
    assert (loop._replan, loop._wake.is_set(),
            metrics.registry.get_sample_value("fairshare_admissions_total", {"tenant": "nlp", "gpu_class": "a100"})
            ) == (True, True, 2.0), "the loop re-plans soon; only applied admissions count"


@pytest.mark.parametrize(("budget", "arrives"), [
    pytest.param(1.0, False, id="budget spent but nothing new: the plan is applied whole"),
    pytest.param(0.0, True, id="no budget: the plan is applied whole"),
    pytest.param(100.0, True, id="budget not spent: the plan is applied whole"),
])
def test_otherwise_every_grant_is_applied(budget: float, arrives: bool) -> None:
    store = pending_world(6)

    def a_job_arrives(_: int) -> None:
        if arrives:
            store.put(TRAINING_JOBS, training_job("nlp/late").gpus(1).body())

    batches, _, loop = run_one_cycle(store, budget=budget, step=1.0, on_grant=a_job_arrives)
    assert (sorted(admitted(batches)), loop._replan) == ([f"nlp/j{i}" for i in range(6)], False)


def test_the_next_cycle_plans_what_was_left_out_and_the_newcomer() -> None:
    store = pending_world(4)
    metrics, timer = OperatorMetrics(), Clock(1.0)
    batches: list[list[Any]] = []

    def apply(actions: tuple[Action, ...]) -> None:
        # Applied admissions reach the store, as the applier's patch responses do; a job arrives during the first.
        batches.append(rows(actions))
        timer.now += timer.step
        for a in actions:
            if isinstance(a, PatchStatus) and a.kind == TRAINING_JOBS:
                body = store.get(TRAINING_JOBS, a.key)
                assert body is not None
                store.put(TRAINING_JOBS, {**body, "status": a.status,
                                          "metadata": {**body["metadata"], "resourceVersion": "99"}})
            if isinstance(a, EnsureChildren):
                for pod in a.pods:
                    store.put(PODS, {**pod, "metadata": {**pod["metadata"], "namespace": "nlp",
                                                         "resourceVersion": "100"}})
                if store.get(TRAINING_JOBS, "nlp/late") is None:
                    store.put(TRAINING_JOBS, training_job("nlp/late").gpus(1).body())

    loop = SchedulingLoop(store, apply, metrics, PolicyConfig(), DEFAULT_SETTINGS,
                          LoopSettings(grant_chunk_objects=2, grant_budget_seconds=1.0), clock=lambda: NOW,
                          timer=timer)
    asyncio.run(loop.run_cycle("event"))
    first = admissions(batches)
    batches.clear()
    asyncio.run(loop.run_cycle("event"))
    second = admissions(batches)
    assert (first, sorted(second)) == (["nlp/j0", "nlp/j1"], ["nlp/j2", "nlp/j3", "nlp/late"]), (
        "no job admitted twice, none lost")
    assert admitted(batches) == second, "children only for this cycle's admissions"


# --- transitions that free no GPUs come after the grants ---------------------------------------------------------

CLUSTER = [gpu_class("a100").price(2.0), tenant("nlp"), node("n0").gpu_class("a100").gpus(8)]
STARTED = [training_job("nlp/r").gpus(1).phase("Admitted").allocation("a100", "n0").rv(77),
           worker("nlp/r", 0, node_name="n0", gpus=1)]


def groups_of(key: str, *decisions: Any) -> list[tuple[str, list[Any]]]:
    result = plan([*CLUSTER, *STARTED, training_job("nlp/new").gpus(1)], scheduler=told(*decisions))
    return [(name, mine) for name, group in (("releases", result.releases), ("grants", result.grants),
                                             ("bookkeeping", result.bookkeeping))
            if (mine := rows(group, key))]


def test_running_is_written_after_the_grants() -> None:
    assert groups_of("nlp/r") == [("bookkeeping", [("patch", "nlp/r", "Running", None)])]


def test_running_goes_first_when_the_core_decided_about_the_same_job() -> None:
    assert groups_of("nlp/r", Preempt("nlp/r", "make room")) == [
        ("releases", [("patch", "nlp/r", "Running", None), ("patch", "nlp/r", "Preempted", "77"),
                      ("delete", "nlp/r", ("r-worker-0",)), ("event", "nlp/r", "Warning", "Preempted")])]


def test_the_cycle_after_a_cut_counts_as_a_replan() -> None:
    store, metrics, timer = pending_world(6), OperatorMetrics(), Clock(1.0)

    def apply(actions: tuple[Action, ...]) -> None:
        timer.now += timer.step
        if any(isinstance(a, EnsureChildren) for a in actions) and store.get(TRAINING_JOBS, "nlp/late") is None:
            store.put(TRAINING_JOBS, training_job("nlp/late").gpus(1).body())  # one newcomer, during the first cycle

    loop = SchedulingLoop(store, apply, metrics, PolicyConfig(), DEFAULT_SETTINGS,
                          LoopSettings(period_seconds=3600, debounce_seconds=0, grant_chunk_objects=2,
                                       grant_budget_seconds=1.0), clock=lambda: NOW, timer=timer)

    async def scenario() -> None:
        task = asyncio.create_task(loop.run())
        try:
            loop.poke()
            while loop.cycles < 2:
                await asyncio.sleep(0.001)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
    assert (metrics.registry.get_sample_value("fairshare_cycles_total", {"trigger": "event"}),
            metrics.registry.get_sample_value("fairshare_cycles_total", {"trigger": "replan"})) == (1.0, 1.0)
