"""The garbage-collection pause histogram (which bucket a pause lands in, what the gc hook times, that the real
collector's collections are counted only while it is installed) and the tenure of long-lived objects."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fairshare.gcpauses import GcPauses, keep_tenuring, tenure_survivors


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def exported(pauses: GcPauses) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the collector exports, by name and labels, read back through the exposition format."""
    registry = CollectorRegistry()
    registry.register(pauses)
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def bucket(generation: int, le: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return "fairshare_gc_pause_seconds_bucket", (("generation", str(generation)), ("le", le))


def of(name: str, generation: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, (("generation", str(generation)),)


@pytest.mark.parametrize(("seconds", "first_bucket_holding_it"), [
    (0.0004, "0.001"),
    (0.001, "0.001"),  # a bucket's bound is inclusive (le)
    (0.0011, "0.005"),
    (0.3, "0.5"),
    (3.0, "4.0"),
    (9.5, "+Inf"),
])
def test_a_pause_counts_in_its_bucket_and_every_wider_one(seconds: float, first_bucket_holding_it: str) -> None:
    pauses = GcPauses()
    pauses.record(2, seconds)
    samples = exported(pauses)
    bounds = [*(str(b) for b in pauses.buckets), "+Inf"]
    first = bounds.index(first_bucket_holding_it)
    assert [samples[bucket(2, le)] for le in bounds] == [0.0] * first + [1.0] * (len(bounds) - first)
    assert samples[of("fairshare_gc_pause_seconds_count", 2)] == 1.0
    assert samples[of("fairshare_gc_pause_seconds_sum", 2)] == pytest.approx(seconds)
    assert samples[of("fairshare_gc_pause_seconds_count", 0)] == 0.0  # the other generations stay at zero


@pytest.mark.parametrize(("events", "expected_by_generation"), [
    # (phase, generation, clock advance before the event)
    ([("start", 2, 0.0), ("stop", 2, 1.5)], {2: (1, 1.5, 1.5)}),
    ([("start", 0, 0.0), ("stop", 0, 0.002), ("start", 2, 3.0), ("stop", 2, 0.25)],
     {0: (1, 0.002, 0.002), 2: (1, 0.25, 0.25)}),
    ([("start", 1, 0.0), ("stop", 1, 0.5), ("start", 1, 1.0), ("stop", 1, 0.75)], {1: (2, 1.25, 0.75)}),
    ([("stop", 2, 5.0)], {}),  # installed in the middle of a collection: a stop without its start is not timed
])
def test_the_hook_times_each_collection_from_start_to_stop(
        events: list[tuple[str, int, float]], expected_by_generation: dict[int, tuple[int, float, float]]) -> None:
    clock = FakeClock()
    pauses = GcPauses(clock=clock)
    for phase, generation, advance in events:
        clock.now += advance
        pauses.hook(phase, {"generation": generation, "collected": 0, "uncollectable": 0})
    samples = exported(pauses)
    for generation in (0, 1, 2):
        count, total, longest = expected_by_generation.get(generation, (0, 0.0, 0.0))
        assert samples[of("fairshare_gc_pause_seconds_count", generation)] == count
        assert samples[of("fairshare_gc_pause_seconds_sum", generation)] == pytest.approx(total)
        assert samples[of("fairshare_gc_pause_longest_seconds", generation)] == pytest.approx(longest)


@pytest.fixture
def installed() -> Iterator[GcPauses]:
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # twice is once
    try:
        yield pauses
    finally:
        pauses.uninstall()


def test_real_full_collections_are_counted_while_installed_only(installed: GcPauses) -> None:
    assert gc.callbacks.count(installed.hook) == 1
    full = of("fairshare_gc_pause_seconds_count", 2)
    gc.collect()
    gc.collect()
    counted = exported(installed)[full]
    assert counted >= 2  # the interpreter may have run full collections of its own meanwhile
    installed.uninstall()
    gc.collect()
    assert exported(installed)[full] == counted
    assert installed.hook not in gc.callbacks


@pytest.fixture
def thawed() -> Iterator[None]:
    """Each tenure test starts and ends with nothing frozen (the simulator freezes its own objects too)."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_tenured_objects_are_left_out_of_full_collections_and_still_freed(thawed: None) -> None:
    store = [{"metadata": {"name": f"job-{i}"}, "spec": {"gpus": [i]}} for i in range(20_000)]
    before = gc.get_freeze_count()
    frozen = tenure_survivors()
    # each body, its spec and its list: a dict of strings alone is left untracked by the collector
    assert frozen == gc.get_freeze_count() >= before + 3 * len(store)
    assert all(not any(o is body for o in gc.get_objects(generation=2)) for body in store[:3])
    gc.collect()
    assert gc.get_freeze_count() == frozen  # a full collection leaves them where they are
    del store
    assert gc.get_freeze_count() <= frozen - 3 * 20_000  # freed by their last reference, frozen or not


def test_keep_tenuring_tenures_what_was_allocated_since(thawed: None) -> None:
    async def run() -> int:
        task = asyncio.create_task(keep_tenuring(0.01))
        await asyncio.sleep(0.05)
        frozen_first = gc.get_freeze_count()
        later = [[i] for i in range(5_000)]
        await asyncio.sleep(0.05)
        task.cancel()
        frozen_then = gc.get_freeze_count()
        assert len(later) == 5_000
        return frozen_then - frozen_first

    assert asyncio.run(run()) >= 5_000
