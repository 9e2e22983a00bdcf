"""Gang placement on node pools: best-fit, all or nothing, cordoned nodes excluded."""

from __future__ import annotations

import pytest

from fairshare.core.placement import NodePool


def pool(free: list[int], schedulable: list[bool] | None = None, size: int = 8) -> NodePool:
    names = [f"n{i}" for i in range(len(free))]
    return NodePool("gpu", names, [size] * len(free), [size - f for f in free], schedulable or [True] * len(free))


@pytest.mark.parametrize(
    ("free", "workers", "per_worker", "want"),
    [
        pytest.param([8, 3, 4], 1, 3, [1], id="best fit: the fullest node that still holds the worker"),
        pytest.param([8, 3, 4], 2, 4, [2, 0], id="workers go one by one to the best fit"),
        pytest.param([8, 8], 1, 8, [0], id="ties go to the first node by name"),
        pytest.param([8, 2, 2], 3, 2, [1, 2, 0], id="small holes are filled before big ones"),
        pytest.param([6, 3], 2, 4, None, id="only one node holds a worker: nothing placed"),
        pytest.param([8], 2, 4, [0, 0], id="two workers on one node"),
        pytest.param([8], 1, 9, None, id="a worker larger than any node"),
    ],
)
def test_place(free: list[int], workers: int, per_worker: int, want: list[int] | None) -> None:
    p = pool(free)
    before = list(p.free)
    got = p.place(workers, per_worker)
    assert got == want
    if want is None:
        assert p.free == before  # all or nothing
    else:
        assert sum(before) - sum(p.free) == workers * per_worker


def test_cordoned_nodes_get_nothing_but_keep_their_count() -> None:
    p = pool([8, 8], schedulable=[False, True])
    assert p.total_free == 8
    assert p.place(1, 8) == [1]
    assert p.place(1, 1) is None
    p.release(0, 2)
    assert p.free[0] == 10 and p.total_free == 0


@pytest.mark.parametrize(
    ("free", "per_worker", "want"),
    [pytest.param([8, 3, 4], 2, 4 + 1 + 2, id="slots per node add up"),
     pytest.param([1, 1, 1], 2, 0, id="fragments hold no worker")],
)
def test_slots(free: list[int], per_worker: int, want: int) -> None:
    assert pool(free).slots(per_worker) == want


def test_release_and_take_keep_buckets_consistent() -> None:
    p = pool([8, 8])
    nodes = p.place(3, 4)
    assert nodes == [0, 0, 1]
    p.unplace(nodes, 4)
    assert p.free == [8, 8] and p.total_free == 16
    assert p.place(2, 8) == [0, 1]
