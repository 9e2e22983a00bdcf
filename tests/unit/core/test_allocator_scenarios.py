"""Named scenarios with known answers: the market policy's whole set of decisions for small clusters."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import Admit, CycleResult
from fairshare.core.types import Snapshot
from tests.builders import cluster, gpu_class, job, node, tenant
from tests.unit.core.helpers import Row, reason, summary

NOW = 100_000.0
HOUR = 3600.0


def admitted_per_tenant(result: CycleResult) -> dict[str, int]:
    return dict(Counter(d.job_key.split("/")[0] for d in result.decisions if isinstance(d, Admit)))


SCENARIOS = [
    pytest.param(
        cluster().gpus("gpu", nodes=1, per_node=12).tenants("a", "b", "c").jobs(
            job("a/x").gpus(2), job("b/x").gpus(2), job("c/x").gpus(2)).obj(),
        [("admit", "a/x", "gpu", ("gpu-0",)), ("admit", "b/x", "gpu", ("gpu-0",)),
         ("admit", "c/x", "gpu", ("gpu-0",))],
        {},
        id="everything fits: everyone runs",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("nlp").guarantee(a100=8), "cv").jobs(
            job("cv/big").gpus(8).running("a100", "a100-0", started=NOW - 600),
            job("nlp/train").gpus(4).submitted(NOW - 60)).obj(),
        [("preempt", "cv/big"), ("admit", "nlp/train", "a100", ("a100-0",))],
        {"cv/big": "reclaimed for tenant nlp's guarantee of 8 a100 GPUs (it holds 0, nlp/train needs 4); "
                   "tenant cv held 8 against a guarantee of 0; priority 0, 1.33 GPU-hours since its last checkpoint"},
        id="a guarantee reclaimed from a borrower",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("nlp").guarantee(a100=4), "cv").jobs(
            job("cv/elastic").workers(1, 3).gpus(2).running("a100", "a100-0", "a100-0", "a100-0", started=0),
            job("cv/fixed").gpus(2).running("a100", "a100-0", started=0),
            job("nlp/train").gpus(2).submitted(NOW - 60)).obj(),
        [("resize", "cv/elastic", 2, ("a100-0", "a100-0")), ("admit", "nlp/train", "a100", ("a100-0",))],
        {"cv/elastic": "shrunk from 3 to 2 workers before anyone is preempted: reclaimed for tenant nlp's guarantee"},
        id="an elastic job shrinks before anyone is preempted",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("nlp").guarantee(a100=4), "cv").jobs(
            job("cv/elastic").workers(3, 4).gpus(2).running("a100", *["a100-0"] * 4, started=0),
            job("nlp/train").gpus(4)).obj(),
        [("preempt", "cv/elastic"), ("admit", "nlp/train", "a100", ("a100-0",))],
        {},
        id="shrinking to its minimum is not enough: the job is preempted, never left under its minimum",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=2, per_node=4, price=4).tenants(tenant("nlp").guarantee(a100=4), "cv").jobs(
            job("cv/low").gpus(4).priority(0).running("a100", "a100-0", started=NOW - HOUR, checkpoint=NOW - 60),
            job("cv/high").gpus(4).priority(5).running("a100", "a100-1", started=NOW - HOUR),
            job("nlp/train").gpus(4)).obj(),
        [("preempt", "cv/low"), ("admit", "nlp/train", "a100", ("a100-0",))],
        {"cv/low": "priority 0, 0.07 GPU-hours since its last checkpoint"},
        id="reclaim takes the lowest priority first",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=2, per_node=4, price=4).tenants(tenant("nlp").guarantee(a100=4), "cv").jobs(
            job("cv/fresh").gpus(4).running("a100", "a100-0", started=NOW - HOUR, checkpoint=NOW - 60),
            job("cv/stale").gpus(4).running("a100", "a100-1", started=NOW - HOUR, checkpoint=NOW - HOUR / 2),
            job("nlp/train").gpus(4)).obj(),
        [("preempt", "cv/fresh"), ("admit", "nlp/train", "a100", ("a100-0",))],
        {"cv/fresh": "0.07 GPU-hours since its last checkpoint"},
        id="reclaim then takes the least work lost since checkpoint",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("nlp").guarantee(a100=8), "cv").jobs(
            job("cv/pinned").gpus(8).non_preemptible().running("a100", "a100-0", started=NOW - 600),
            job("nlp/train").gpus(4)).obj(),
        [("wait", "nlp/train", 0)],
        {"nlp/train": "no room on a100: 0 GPUs free"},
        id="a non-preemptible job is never reclaimed",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=4).tenants(tenant("cv").guarantee(a100=2), "nlp").jobs(
            job("cv/pinned").gpus(4).non_preemptible(), job("cv/ok").gpus(2).non_preemptible().submitted(1)).obj(),
        [("admit", "cv/ok", "a100", ("a100-0",)), ("wait", "cv/pinned", 0)],
        {"cv/pinned": "non-preemptible jobs run only within the tenant's guarantee: "
                      "a100 guarantee 2, holds 2, needs 4"},
        id="non-preemptible jobs run only within the guarantee",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2, speed=3).gpus("v100", nodes=1, per_node=4, price=1)
        .tenants("nlp", "cv").jobs([job(f"nlp/j{i}").submitted(i) for i in range(4)],
                                   [job(f"cv/j{i}").submitted(i) for i in range(4)],
                                   job("cv/cheap").classes("a100").bid(1.9).submitted(9)).obj(),
        [("admit", "cv/j0", "a100", ("a100-0",)), ("admit", "cv/j1", "a100", ("a100-0",)),
         ("admit", "cv/j2", "v100", ("v100-0",)), ("admit", "cv/j3", "v100", ("v100-0",)),
         ("admit", "nlp/j0", "a100", ("a100-0",)), ("admit", "nlp/j1", "a100", ("a100-0",)),
         ("admit", "nlp/j2", "v100", ("v100-0",)), ("admit", "nlp/j3", "v100", ("v100-0",)),
         ("wait", "cv/cheap", 0)],
        {"cv/cheap": "tenant cv is at 0.92x its fair share (5.50 of 6.00 credits/h); 0 jobs ahead; "
                     "bid 1.90 < price 2.00 of a100"},
        id="a bid under the price waits (a contended class costs its list price at most)",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants("a", "b").jobs(
            [job(f"a/j{i}").submitted(i) for i in range(8)], job("b/lowball").bid(0.3),
            job("b/thrifty").bid(1.5)).obj(),
        [*[("admit", f"a/j{i}", "a100", ("a100-0",)) for i in range(6)],
         ("admit", "a/j6", "a100", ("a100-0",), "opportunistic"),
         ("admit", "b/thrifty", "a100", ("a100-0",), "opportunistic"),
         ("wait", "a/j7", 0), ("wait", "b/lowball", 0)],
        {"b/lowball": "bid 0.30 < price 2.00 of a100"},
        id="a bid under the price but over the floor runs on idle capacity",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants(tenant("a").budget(100, spent=100), "b").jobs(
            job("a/j").gpus(2), job("b/j").gpus(4)).obj(),
        [("admit", "a/j", "a100", ("a100-0",), "opportunistic"), ("admit", "b/j", "a100", ("a100-0",))],
        {},
        id="a spent budget runs only opportunistically",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2).tenants(tenant("a").budget(100, spent=100), "b").jobs(
            job("a/j").gpus(2).running("a100", "a100-0", started=0, opportunistic=True),
            job("b/j").gpus(4)).obj(),
        [("preempt", "a/j"), ("admit", "b/j", "a100", ("a100-0",))],
        {"a/j": "ran on idle a100 capacity beyond tenant a's share; yields to b/j, within tenant b's share"},
        id="an opportunistic job yields to work within a share",
    ),
    *[pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants(
            tenant("a").budget(100, spent=100), tenant("b").budget(100, spent=100), "c").jobs(
            job("a/x").gpus(4).priority(priority).running("a100", "a100-0", started=NOW - 1000, opportunistic=True),
            job("b/y").gpus(2).running("a100", "a100-0", started=0, opportunistic=True),
            job("c/j").gpus(4)).obj(),
        [("preempt", "a/x"), ("admit", "c/j", "a100", ("a100-0",))],
        {},
        id=f"idle capacity is yielded by the tenant holding the most, whatever its job's priority ({priority})",
    ) for priority in (0, 1000)],
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2).tenants(tenant("a").budget(100, spent=100), "b").jobs(
            job("a/j").gpus(2).running("a100", "a100-0", started=NOW - 60, opportunistic=True),
            job("b/j").gpus(4)).obj(),
        [("wait", "b/j", 0)],
        {"b/j": "no room on a100: 2 GPUs free"},
        id="minimum run time protects a young opportunistic job",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2).tenants("a").jobs(
            job("a/old").gpus(4).priority(0).running("a100", "a100-0", started=NOW - 700, opportunistic=True),
            job("a/same").gpus(4).priority(0)).obj(),
        [("wait", "a/same", 0)],
        {},
        id="never preempt for a job of the same tenant, equal priority and the same service band",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2).tenants("a").jobs(
            job("a/old").gpus(4).priority(0).running("a100", "a100-0", started=0, opportunistic=True),
            job("a/fresh").gpus(4).priority(0)).obj(),
        [("preempt", "a/old"), ("admit", "a/fresh", "a100", ("a100-0",), "opportunistic")],
        {"a/old": "gives way to a/fresh of the same tenant a: least attained service first (111.1 GPU-hours held, "
                  "band 3; a/fresh 0.0, band 0)"},
        id="a job that has held far more GPU-hours gives way to its own tenant's fresh job",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=2, per_node=4, price=2).tenants("a", "b").jobs(
            job("a/long").gpus(4).running("a100", "a100-0", started=0),
            job("b/long").gpus(4).running("a100", "a100-1", started=0),
            job("b/fresh").gpus(4)).obj(),
        [("preempt", "b/long"), ("admit", "b/fresh", "a100", ("a100-1",))],
        {},
        id="service order stays within a tenant: the fresh job replaces its own tenant's long job, not another's",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2).tenants("a").jobs(
            job("a/old").gpus(4).attained(500).running("a100", "a100-0", started=NOW - 300),
            job("a/fresh").gpus(4)).obj(),
        [("wait", "a/fresh", 0)],
        {},
        id="service order waits for the minimum run time of the job that would give way",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2).tenants("a").jobs(
            job("a/important").gpus(4).priority(1).running("a100", "a100-0", started=0),
            job("a/fresh").gpus(4).priority(0)).obj(),
        [("wait", "a/fresh", 0)],
        {},
        id="service order never displaces a job of higher priority",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2).tenants("a").jobs(
            job("a/old").gpus(4).priority(0).running("a100", "a100-0", started=0, opportunistic=True),
            job("a/urgent").gpus(4).priority(1)).obj(),
        [("preempt", "a/old"), ("admit", "a/urgent", "a100", ("a100-0",))],
        {},
        id="an opportunistic job yields to its own tenant's higher priority",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2, speed=2).gpus("v100", nodes=1, per_node=4, price=1)
        .tenants("a").jobs(job("a/memory-bound").gpus(4), job("a/compute-bound").gpus(4).submitted(1))
        .throughput("a/memory-bound", "a100", 1, 100.0).throughput("a/memory-bound", "v100", 1, 95.0).obj(),
        [("admit", "a/compute-bound", "a100", ("a100-0",)), ("admit", "a/memory-bound", "v100", ("v100-0",))],
        {},
        id="measured throughput sends a memory-bound job to the cheaper class",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=4, price=2, speed=2).gpus("v100", nodes=1, per_node=4, price=1)
        .tenants("a").jobs(job("a/memory-bound").gpus(4), job("a/compute-bound").gpus(4).submitted(1)).obj(),
        [("admit", "a/compute-bound", "v100", ("v100-0",)), ("admit", "a/memory-bound", "a100", ("a100-0",))],
        {},
        id="unmeasured throughput falls back to the class relative_speed prior",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8).tenants("a").jobs(job("a/elastic").workers(1, 4).gpus(2)).obj(),
        [("admit", "a/elastic", "a100", ("a100-0",) * 4)],
        {},
        id="an unmeasured elastic job grows to its maximum while GPUs are free",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=2, per_node=8).tenants("a").jobs(job("a/elastic").workers(1, 4).gpus(2))
        .throughput("a/elastic", "a100", 1, 100.0).throughput("a/elastic", "a100", 2, 150.0)
        .throughput("a/elastic", "a100", 3, 160.0).obj(),
        [("admit", "a/elastic", "a100", ("a100-0",) * 2)],
        {},
        id="an elastic job grows while marginal throughput per GPU beats the price",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8).tenants("a").jobs(
            job("a/elastic").workers(1, 4).gpus(2).running("a100", "a100-0", started=0))
        .throughput("a/elastic", "a100", 1, 100.0).obj(),
        [("resize", "a/elastic", 4, ("a100-0",) * 4)],
        {"a/elastic": "grew from 1 to 4 workers: marginal efficiency 1.00 >= price 1.00 / list 1.00"},
        id="a running elastic job grows by a resize",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=2, per_node=4).tenants("a").jobs(job("a/wide").workers(2).gpus(4),
                                                                      job("a/tall").gpus(8)).obj(),
        [("admit", "a/wide", "a100", ("a100-0", "a100-1")), ("wait", "a/tall", 0)],
        {"a/tall": "gang of 1x8 GPUs cannot fit a100 (2 nodes, largest 4 GPUs, 8 GPUs in all)"},
        id="a gang spans nodes worker by worker; a worker never spans nodes",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=3, per_node=4).tenants("a", "b").jobs(
            job("b/small").gpus(1).running("a100", "a100-1", started=0),
            job("a/three").gpus(3), job("a/two").gpus(2).submitted(1)).obj(),
        [("admit", "a/three", "a100", ("a100-1",)), ("admit", "a/two", "a100", ("a100-0",))],
        {},
        id="best-fit packs into the fullest node that holds the worker",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8).tenants("a").jobs(job("a/x").classes("h100")).obj(),
        [("wait", "a/x", 0)],
        {"a/x": "no GPU class in the cluster matches h100"},
        id="a job for a class the cluster lacks waits with a reason",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8).tenants("a").jobs(
            job("a/done").gpus(8).terminal(), job("a/next").gpus(8)).obj(),
        [("admit", "a/next", "a100", ("a100-0",))],
        {},
        id="a terminal job gets no decision and holds nothing",
    ),
    pytest.param(
        cluster().gpus("a100", nodes=1, per_node=8).tenants(tenant("a").borrowing(a100=2).guarantee(a100=2)).jobs(
            job("a/x").gpus(4), job("a/y").gpus(2).submitted(1)).obj(),
        [("admit", "a/y", "a100", ("a100-0",)), ("wait", "a/x", 0)],
        {"a/x": "at its limit on a100: holds 2 of 2 guaranteed + 2 borrowable GPUs, needs 4"},
        id="never over guarantee plus borrowing limit",
    ),
]


@pytest.mark.parametrize(("snapshot", "want", "reasons"), SCENARIOS)
def test_scenario(snapshot: Snapshot, want: list[Row], reasons: dict[str, str]) -> None:
    result = schedule(snapshot, NOW, PolicyConfig())
    assert summary(result) == want
    for key, text in reasons.items():
        assert text in reason(result, key)


@pytest.mark.parametrize(
    ("weights", "want"),
    [
        pytest.param((1, 1, 1), {"a": 4, "b": 4, "c": 4}, id="equal weights split evenly"),
        pytest.param((1, 2, 3), {"a": 2, "b": 4, "c": 6}, id="water-filling with weights 1:2:3"),
        pytest.param((1, 0, 1), {"a": 6, "c": 6}, id="weight zero gets nothing while others want more"),
    ],
)
def test_weighted_shares(weights: tuple[int, int, int], want: dict[str, int]) -> None:
    tenants = [tenant(n).weight(w) for n, w in zip("abc", weights, strict=True)]
    snapshot = cluster().gpus("gpu", nodes=12, per_node=1).tenants(*tenants).jobs(
        [job(f"{t}/j{i}").submitted(i) for t in "abc" for i in range(12)]).obj()
    result = schedule(snapshot, NOW, PolicyConfig())
    assert admitted_per_tenant(result) == want
    assert {t: round(s["gpu"], 6) for t, s in result.fair_shares.items()} == {
        "a": want.get("a", 0), "b": want.get("b", 0), "c": want.get("c", 0)}


def test_demand_caps_a_share_and_the_rest_flows_on() -> None:
    snapshot = cluster().gpus("gpu", nodes=12, per_node=1).tenants("a", "b", "c").jobs(
        job("a/only"), [job(f"b/j{i}").submitted(i) for i in range(12)],
        [job(f"c/j{i}").submitted(i) for i in range(12)]).obj()
    result = schedule(snapshot, NOW, PolicyConfig())
    # 5.5 GPUs each round down to 5 jobs within share; the last GPU goes to b on idle capacity (name order).
    assert admitted_per_tenant(result) == {"a": 1, "b": 6, "c": 5}
    assert {t: round(s["gpu"], 6) for t, s in result.fair_shares.items()} == {"a": 1, "b": 5.5, "c": 5.5}


def test_recent_heavy_usage_yields_share() -> None:
    # 12 GPUs x 24 h half-life: 144 GPU-hours of decayed usage is half the cluster over one half-life.
    snapshot = cluster().gpus("gpu", nodes=12, per_node=1).tenants(tenant("heavy").usage(144), "light").jobs(
        [job(f"{t}/j{i}").submitted(i) for t in ("heavy", "light") for i in range(12)]).obj()
    result = schedule(snapshot, NOW, PolicyConfig())
    # Slurm's factor with usage against the cluster: 2^(-(144 / 288) / 0.5) = 1/2 of heavy's weight.
    assert result.fair_shares["heavy"]["gpu"] == pytest.approx(12 * 0.5 / 1.5)
    assert result.fair_shares["light"]["gpu"] == pytest.approx(12 * 1 / 1.5)
    unweighted = schedule(snapshot, NOW, PolicyConfig(usage_discount=False))
    assert unweighted.fair_shares["heavy"]["gpu"] == pytest.approx(6)


def test_a_few_gpu_seconds_of_history_leave_equal_weights_nearly_equal() -> None:
    """36 GPU-seconds of history on a 48-GPU cluster used to make fair shares 10/10/28 at weights 1:1:1."""
    snapshot = cluster().gpus("gpu", nodes=6, per_node=8).tenants(
        tenant("a").usage(0.005), tenant("b").usage(0.005), "c").jobs(
        [job(f"{t}/j{i}").gpus(8).submitted(i) for t in "abc" for i in range(6)]).obj()
    shares = schedule(snapshot, NOW, PolicyConfig()).fair_shares
    assert [round(shares[t]["gpu"], 2) for t in "abc"] == [16.0, 16.0, 16.0]


def test_contended_class_costs_its_list_price_at_most_and_idle_class_drops_to_the_floor() -> None:
    snapshot = (cluster().gpus("a100", nodes=1, per_node=4, price=2, speed=4).gpus("t4", nodes=4, per_node=4, price=1)
                .tenants("a", "b").jobs([job(f"{t}/j{i}").classes("a100").submitted(i)
                                         for t in "ab" for i in range(4)]).obj())
    result = schedule(snapshot, NOW, PolicyConfig(price_floor_fraction=0.25))
    # Both tenants' whole entitlements chase 4 GPUs: the equilibrium (4.0) is above the list price, which caps it.
    assert result.prices["a100"] == pytest.approx(2.0)
    assert result.prices["t4"] == pytest.approx(0.25)


@pytest.mark.parametrize(("last", "max_step", "want"), [
    pytest.param(None, 0.25, 2.0, id="no last price: the equilibrium, capped at list"),
    pytest.param(1.0, 0.25, 1.25, id="up by at most a quarter from the last price"),
    pytest.param(1.0, 0.0, 2.0, id="damping off: the equilibrium at once"),
    pytest.param(1.9, 0.25, 2.0, id="never above the list price"),
])
def test_prices_follow_the_equilibrium_at_a_bounded_pace(last: float | None, max_step: float, want: float) -> None:
    snapshot = (cluster().classes(gpu_class("a100").price(2).speed(4)).nodes(node("a100-0").of("a100").gpus(4))
                .tenants("a", "b").jobs([job(f"{t}/j{i}").classes("a100").submitted(i)
                                         for t in "ab" for i in range(4)]).obj())
    if last is not None:
        snapshot = replace(snapshot, classes=tuple(replace(c, current_price=last) for c in snapshot.classes))
    result = schedule(snapshot, NOW, PolicyConfig(price_floor_fraction=0.25, price_max_step=max_step))
    assert result.prices["a100"] == pytest.approx(want)


def test_a_gang_no_class_can_hold_raises_no_price() -> None:
    """Two jobs of 16 GPUs per worker on 8-GPU nodes used to lift every price while most GPUs sat idle."""
    base = cluster().gpus("a100", nodes=2, per_node=8, price=2.5).gpus("l4", nodes=4, per_node=4, price=0.8).tenants(
        "a", "b").jobs(job("a/small").gpus(1))
    alone = schedule(base.obj(), NOW, PolicyConfig())
    with_giants = schedule(base.jobs(job("b/giant-0").gpus(16), job("b/giant-1").gpus(16)).obj(), NOW, PolicyConfig())
    assert dict(with_giants.prices) == dict(alone.prices)
    assert "cannot fit" in reason(with_giants, "b/giant-0")


def test_step_durations_come_from_the_injected_clock() -> None:
    ticks = iter(range(100))
    snapshot = cluster().gpus("gpu").tenants("a").jobs(job("a/x")).obj()
    result = schedule(snapshot, NOW, PolicyConfig(), clock=lambda: float(next(ticks)))
    assert list(result.step_seconds) == ["index", "entitlements", "prices", "guarantees", "shares", "idle",
                                         "service", "elastic", "migration", "decisions", "wake"]
    assert set(result.step_seconds.values()) == {1.0}


def test_charges_cover_every_job_holding_gpus() -> None:
    snapshot = cluster().gpus("a100", nodes=1, per_node=8, price=2).tenants(tenant("a").budget(1, spent=1), "b").jobs(
        job("b/run").gpus(2).running("a100", "a100-0"), job("a/new").gpus(2), job("b/new").gpus(2),
        job("b/gone").terminal()).obj()
    result = schedule(snapshot, NOW, PolicyConfig())
    floor = 0.2 * 2
    assert dict(result.charges) == {"a/new": floor, "b/new": result.prices["a100"], "b/run": result.prices["a100"]}
