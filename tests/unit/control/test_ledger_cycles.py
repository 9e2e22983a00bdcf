"""The ledger over many cycles against a fake API server: a tenant's spend is the sum of its jobs' charges, deleted
jobs included (a running one up to the whole second after it was seen gone), however the operator is cut off
mid-cycle (a crash leaves a prefix of the cycle's writes applied), and jobs are deleted after whole and cut-off cycles
alike. The store here sees every deletion; one seen by no operator (docs/reliability.md) is not covered."""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any

import pytest

from fairshare.control.store import PODS, TENANTS, TRAINING_JOBS
from tests.unit.control.builders import training_job
from tests.unit.control.helpers import plan
from tests.unit.control.test_cycles import Driver


def spend(d: Driver) -> float:
    tenant = d.store.get(TENANTS, "nlp")
    assert tenant is not None
    return float(tenant["status"].get("spendThisPeriod") or 0.0)


def period_credits(body: dict[str, Any]) -> float:
    return float(((body.get("status") or {}).get("cost") or {}).get("periodCredits") or 0.0)


def charged_when_deleted(body: dict[str, Any], seen_gone: float) -> float:
    """What a job deleted at `seen_gone` was charged in the period: its status's figure, and if it was Running, its
    GPUs x the price it last paid x the time from its last charge to the whole second after it was seen gone."""
    status = body.get("status") or {}
    alloc = status.get("allocation")
    if status.get("phase") != "Running" or not alloc:
        return period_credits(body)
    since = (status.get("cost") or {}).get("accruedAt") or alloc["admittedAt"]
    seconds = math.ceil(seen_gone) - datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
    return period_credits(body) + alloc["gpus"] * alloc["pricePerGPUHour"] * seconds / 3600.0


def crash_apply(d: Driver, rnd: random.Random) -> None:
    """One cycle whose writes stop at a random point, as when the operator is killed while applying them."""
    d.now += rnd.uniform(5.0, 40.0)
    result = plan(d.store, d.now)
    actions = list(result.releases + result.grants + result.bookkeeping)
    d.cluster.apply(actions[:rnd.randrange(len(actions) + 1)])


@pytest.mark.parametrize("ghosts", [pytest.param(False, id="no ghosts"), pytest.param(True, id="ghosts")])
@pytest.mark.parametrize("seed", range(6))
def test_spend_is_the_sum_of_the_jobs_charges_through_crashes_and_deletions(seed: int, ghosts: bool) -> None:
    """With `ghosts`, a finished job deleted now and then comes back into the operator's view for a few cycles and
    leaves again (a stale read the store let through): its one entry must not count twice."""
    rnd = random.Random(seed)
    d = Driver(*[training_job(f"nlp/j{i}").gpus(rnd.choice((1, 2, 4))) for i in range(6)])
    deleted = 0.0
    serial = 6
    # key -> (the body of a deleted job, "gone" | "back" | "left"): gone for a cycle or more first (its Tenant saw it
    # gone), then back in the store for a few cycles, then gone for good.
    haunting: dict[str, tuple[dict[str, Any], str]] = {}
    for _ in range(120):
        for key, (body, state) in list(haunting.items()):
            if state == "back" and rnd.random() < 0.4:
                d.store.objects[TRAINING_JOBS].pop(key, None)
                haunting[key] = (body, "left")
            elif state == "gone" and rnd.random() < 0.5:
                d.store.objects[TRAINING_JOBS][key] = body
                haunting[key] = (body, "back")
        crashed = rnd.random() < 0.25
        if crashed:
            crash_apply(d, rnd)
        else:
            d.cycle(seconds=rnd.uniform(5.0, 40.0))
        d.cluster.run_all_pods()
        d.cluster.settle()
        for body in list(d.store.all(PODS)):
            if body["status"]["phase"] == "Running" and rnd.random() < 0.05:
                d.cluster.set_pod_phase(f"{body['metadata']['namespace']}/{body['metadata']['name']}", "Succeeded")
        for body in list(d.store.all(TRAINING_JOBS)):
            phase = (body.get("status") or {}).get("phase")
            if f"{body['metadata']['namespace']}/{body['metadata']['name']}" in haunting:
                continue  # a ghost: deleted already
            # Finished jobs are deleted, and now and then a running one too (its pods go with it).
            if (phase in ("Succeeded", "Failed") and rnd.random() < 0.5) or (
                    phase == "Running" and rnd.random() < 0.01):
                deleted += charged_when_deleted(body, d.now)
                d.store.delete(TRAINING_JOBS, body)
                if ghosts and phase != "Running" and rnd.random() < 0.5:
                    haunting[f"{body['metadata']['namespace']}/{body['metadata']['name']}"] = (body, "gone")
                for pod in list(d.store.all(PODS)):
                    if pod["metadata"]["labels"].get("fairshare.dev/job") == body["metadata"]["name"]:
                        d.store.delete(PODS, pod)
                serial += 1
                d.store.put(TRAINING_JOBS, training_job(f"nlp/j{serial}").gpus(rnd.choice((1, 2, 4))).body())
    for key in haunting:
        d.store.objects[TRAINING_JOBS].pop(key, None)
    d.cycle()  # one whole cycle after the last crash
    jobs = sum(period_credits(b) for b in d.store.all(TRAINING_JOBS))
    assert deleted > 0 and jobs > 0
    assert spend(d) == pytest.approx(deleted + jobs, abs=1e-5)


@pytest.mark.parametrize(("phase", "accrued_ago", "want"), [
    pytest.param("Running", 3600, 90.0 + 8 * 2.0, id="an hour since its last charge: budgets read it accruing"),
    pytest.param("Running", 0, 90.0, id="charged just now: the charged figure"),
    pytest.param("Admitted", 3600, 90.0, id="a gang still starting accrues nothing"),
])
def test_budgets_read_the_charged_spend_plus_what_running_jobs_accrue(phase: str, accrued_ago: float,
                                                                      want: float) -> None:
    from fairshare.control.snapshot import build_world
    from tests.unit.control.builders import NOW, gpu_class, node, store_of, tenant, ts

    job = (training_job("nlp/j").gpus(8).phase(phase).allocation("a100", "n0", admitted_ago=7200, price=2.0)
           .cost(credits=5.0, accrued_ago=accrued_ago))
    world = build_world(store_of(gpu_class("a100"), node("n0").gpu_class("a100").gpus(8), job,
                                 tenant("nlp").budget(100).status(spendThisPeriod=90.0, periodStart=ts(7200))), NOW)
    (core_tenant,) = world.snapshot.tenants
    assert core_tenant.spent_this_period == pytest.approx(want)
