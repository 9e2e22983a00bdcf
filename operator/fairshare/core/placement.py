"""Gang placement: whole gangs on concrete nodes, best-fit so that big holes stay big."""

from __future__ import annotations

import heapq
from collections.abc import Sequence


class NodePool:
    """Free GPUs on one class's nodes, bucketed by free count so best-fit and gang checks cost O(GPUs per node).

    Mutable scratch state for one cycle; nodes are numbered in name order, so ties break deterministically.
    """

    __slots__ = ("gpu_class", "names", "capacity", "free", "schedulable", "count", "heaps", "total_free", "_slots")

    def __init__(
        self, gpu_class: str, names: Sequence[str], capacity: Sequence[int], used: Sequence[int],
        schedulable: Sequence[bool],
    ) -> None:
        self.gpu_class = gpu_class
        self.names = list(names)
        self.capacity = list(capacity)
        self.free = [max(0, c - u) for c, u in zip(capacity, used, strict=True)]
        self.schedulable = list(schedulable)
        top = max(self.capacity, default=0)
        self.count = [0] * (top + 1)
        self.heaps: list[list[int]] = [[] for _ in range(top + 1)]
        self.total_free = 0
        for i, f in enumerate(self.free):
            if self.schedulable[i]:
                self.count[f] += 1
                self.heaps[f].append(i)
                self.total_free += f
        for h in self.heaps:
            heapq.heapify(h)
        self._slots: dict[int, int] = {}  # worker size -> slots, until the next change

    @property
    def max_node_gpus(self) -> int:
        """The largest node's GPU count (0 for an empty pool)."""
        return len(self.count) - 1

    def slots(self, gpus_per_worker: int) -> int:
        """How many workers of this size fit right now: the gang fits iff this is at least its worker count."""
        known = self._slots.get(gpus_per_worker)
        if known is None:
            k, count, known = gpus_per_worker, self.count, 0
            for f in range(k, len(count)):
                if count[f]:
                    known += count[f] * (f // k)
            self._slots[gpus_per_worker] = known
        return known

    def fits(self, workers: int, gpus_per_worker: int) -> bool:
        """True when a gang of `workers` x `gpus_per_worker` can be placed now."""
        if workers * gpus_per_worker > self.total_free or gpus_per_worker >= len(self.count):
            return False
        return self.slots(gpus_per_worker) >= workers

    def _move(self, i: int, new_free: int) -> None:
        old = self.free[i]
        self.free[i] = new_free
        if self.schedulable[i]:
            self._slots.clear()
            self.count[old] -= 1
            self.count[new_free] += 1
            heapq.heappush(self.heaps[new_free], i)
            self.total_free += new_free - old

    def take(self, i: int, gpus: int) -> None:
        """Use `gpus` GPUs on node `i`."""
        self._move(i, self.free[i] - gpus)

    def release(self, i: int, gpus: int) -> None:
        """Give back `gpus` GPUs on node `i`."""
        self._move(i, self.free[i] + gpus)

    def best_fit(self, gpus_per_worker: int) -> int | None:
        """The schedulable node with the fewest free GPUs that still holds one worker (lowest index on ties)."""
        for f in range(gpus_per_worker, len(self.count)):
            if not self.count[f]:
                continue
            heap = self.heaps[f]
            # Entries go stale when a node changes bucket; they are dropped lazily here.
            while heap and self.free[heap[0]] != f:
                heapq.heappop(heap)
            if heap:
                return heap[0]
        return None

    def place(self, workers: int, gpus_per_worker: int) -> list[int] | None:
        """Place a whole gang, one worker at a time on the best-fitting node; all workers or none."""
        if not self.fits(workers, gpus_per_worker):
            return None
        placed: list[int] = []
        for _ in range(workers):
            i = self.best_fit(gpus_per_worker)
            if i is None:  # pragma: no cover - fits() guarantees a slot per worker
                self.unplace(placed, gpus_per_worker)
                return None
            self.take(i, gpus_per_worker)
            placed.append(i)
        return placed

    def unplace(self, nodes: Sequence[int], gpus_per_worker: int) -> None:
        """Undo a placement."""
        for i in nodes:
            self.release(i, gpus_per_worker)
