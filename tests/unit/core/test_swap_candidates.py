"""The swap search looks only where a pair can qualify; on random clusters it finds exactly the pairs that a scan of
every pair finds (same pairs, same order of partners, same products)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from fairshare.core import index
from fairshare.core.config import PolicyConfig
from fairshare.core.cycle import Cycle, RunState
from fairshare.core.migration import _speedup, _swap_candidates, movable
from fairshare.core.types import Snapshot
from tests.builders import cluster, job
from tests.unit.core.helpers import examples
from tests.unit.core.strategies import reachable


def every_pair(cycle: Cycle, gain: float, runs: list[RunState]) -> list[tuple[float, str, str]]:
    """The definition: each pair on different classes whose product of speed-ups is at least `gain` and where
    neither job slows by more than that factor, the earlier job of the pair first."""
    classes = {name: cs.gpu_class for name, cs in cycle.classes.items()}
    out = []
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if a.cls is b.cls:
                continue
            ab, ba = _speedup(cycle, a, b.cls, classes), _speedup(cycle, b, a.cls, classes)
            if ab * ba >= gain and min(ab, ba) >= 1.0 / gain:
                out.append((-ab * ba, a.job.key, b.job.key))
    return sorted(out)


@st.composite
def busy_clusters(draw: st.DrawFn) -> Snapshot:
    """Three classes, running jobs of one or two workers spread over them, each measured where it runs and often
    elsewhere too, at random speeds."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    built = cluster().gpus("a100", nodes=8, speed=3.0).gpus("v100", nodes=8, speed=2.0).gpus("t4", nodes=8)
    built.tenants("a", "b")
    for i in range(draw(st.integers(0, 24))):
        cls, workers = rnd.choice(["a100", "v100", "t4"]), rnd.choice([1, 1, 2])
        key = f"{rnd.choice('ab')}/j{i}"
        built.jobs(job(key).workers(workers).running(cls, *[f"{cls}-{rnd.randrange(8)}"] * workers, started=0))
        for other in ("a100", "v100", "t4"):
            if other == cls or rnd.random() < 0.4:
                built.throughput(key, other, workers, rnd.choice([10.0, 20.0, 40.0, 80.0]))
    return built.obj()


@examples(300)
@given(st.one_of(busy_clusters().map(lambda s: (s, 0.0)), reachable(gpus=(1,))), st.sampled_from([1.05, 1.5, 3.0]))
def test_the_pruned_search_finds_every_qualifying_pair(state: tuple[Snapshot, float], gain: float) -> None:
    snapshot, now = state
    cycle = index.build(snapshot, now + 3600.0, PolicyConfig())
    classes = {name: cs.gpu_class for name, cs in cycle.classes.items()}
    runs = [r for r in cycle.running if movable(cycle, r)]
    found: list[tuple[float, str, str, RunState, RunState]] = []
    _swap_candidates(cycle, classes, gain, runs, found)
    assert sorted((c[0], c[1], c[2]) for c in found) == every_pair(cycle, gain, runs)
