"""The scheduling core's input: frozen, hashable values for GPU classes, nodes, tenants, jobs and throughput."""

from __future__ import annotations

import enum
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping, so that values holding one stay hashable and safe to share."""

    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._items: dict[K, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    # The Mapping mixins go through __getitem__ and KeyError; the scheduler asks these millions of times.
    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        return self._items.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def items(self) -> ItemsView[K, V]:
        return self._items.items()

    def values(self) -> ValuesView[V]:
        return self._items.values()

    def keys(self) -> KeysView[K]:
        return self._items.keys()

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._items == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


def _freeze(mapping: Mapping[str, V] | None) -> FrozenMap[str, V] | None:
    if mapping is None or isinstance(mapping, FrozenMap):
        return mapping
    return FrozenMap(mapping)


@dataclass(frozen=True, slots=True)
class GPUClass:
    """A GPU type: list price (credits per GPU-hour), power draw, and a speed prior for until throughput is measured."""

    name: str
    price_per_gpu_hour: float
    power_watts: float
    relative_speed: float = 1.0
    # The price the last cycle set (status): where this cycle's market starts, with the tenants' fair shares.
    current_price: float | None = None

    def __post_init__(self) -> None:
        if self.price_per_gpu_hour <= 0:
            raise ValueError(f"GPUClass {self.name}: price_per_gpu_hour must be > 0")
        if self.current_price is not None and self.current_price < 0:
            raise ValueError(f"GPUClass {self.name}: current_price must be >= 0")
        if self.relative_speed <= 0:
            raise ValueError(f"GPUClass {self.name}: relative_speed must be > 0")


@dataclass(frozen=True, slots=True)
class Node:
    """A node with `gpus` allocatable GPUs of one class; a cordoned node keeps its jobs but gets no new ones."""

    name: str
    gpu_class: str
    gpus: int
    schedulable: bool = True

    def __post_init__(self) -> None:
        if self.gpus < 0:
            raise ValueError(f"Node {self.name}: gpus must be >= 0")


@dataclass(frozen=True, slots=True)
class Tenant:
    """A team: weight, guaranteed GPUs per class, how much more it may borrow per class, and its credit budget."""

    name: str
    weight: float = 1.0
    guaranteed: Mapping[str, int] = field(default_factory=lambda: FrozenMap[str, int]())
    # Per class, as Kueue's borrowingLimit: None, or a class missing from the mapping, means no limit.
    borrowing_limit: Mapping[str, int] | None = None
    budget_per_period: float | None = None
    spent_this_period: float = 0.0
    decayed_usage_gpu_hours: float = 0.0
    # GPUs per class the last cycle's equilibrium gave it (status): where this cycle's market starts.
    fair_share: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "guaranteed", _freeze(self.guaranteed))
        object.__setattr__(self, "borrowing_limit", _freeze(self.borrowing_limit))
        object.__setattr__(self, "fair_share", _freeze(self.fair_share))
        if self.weight < 0:
            raise ValueError(f"Tenant {self.name}: weight must be >= 0")

    def guarantee(self, gpu_class: str) -> int:
        """GPUs of `gpu_class` this tenant can always reclaim."""
        return self.guaranteed.get(gpu_class) or 0

    def limit(self, gpu_class: str) -> float:
        """The most GPUs of `gpu_class` this tenant may hold: guarantee plus borrowing limit (inf when unlimited)."""
        limits = self.borrowing_limit
        if limits is None or gpu_class not in limits:
            return float("inf")
        return self.guarantee(gpu_class) + limits[gpu_class]

    @property
    def budget_exhausted(self) -> bool:
        """True once this period's spend has reached the budget (never, without a budget)."""
        return self.budget_per_period is not None and self.spent_this_period >= self.budget_per_period


class JobPhase(enum.Enum):
    """Where a job stands for the scheduler; the operator maps its richer CR phases onto these three."""

    PENDING = "Pending"
    RUNNING = "Running"
    TERMINAL = "Terminal"


@dataclass(frozen=True, slots=True)
class Allocation:
    """What a running job holds: a class, one node per worker, when it started and last checkpointed."""

    gpu_class: str
    workers: int
    nodes: tuple[str, ...]
    started_at: float
    last_checkpoint_at: float | None = None
    # Admitted onto idle capacity beyond its tenant's share: charged the floor price and first to yield.
    opportunistic: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        if self.workers != len(self.nodes):
            raise ValueError(f"Allocation: {self.workers} workers but {len(self.nodes)} nodes")


@dataclass(frozen=True, slots=True)
class Job:
    """A distributed training job: a gang of `min_workers`..`max_workers` workers with `gpus_per_worker` GPUs each."""

    key: str
    tenant: str
    min_workers: int
    max_workers: int
    gpus_per_worker: int
    gpu_classes: tuple[str, ...] = ()
    priority: int = 0
    preemptible: bool = True
    max_price_per_gpu_hour: float | None = None
    submitted_at: float = 0.0
    phase: JobPhase = JobPhase.PENDING
    allocation: Allocation | None = None
    # Attained service: GPU-hours it held before its current allocation (all of them while pending). The core adds
    # the current allocation's own time (workers x GPUs x time since started_at).
    attained_gpu_hours: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "gpu_classes", tuple(self.gpu_classes))
        if self.attained_gpu_hours < 0:
            raise ValueError(f"Job {self.key}: attained_gpu_hours must be >= 0")
        if self.min_workers < 1 or self.max_workers < self.min_workers:
            raise ValueError(f"Job {self.key}: need 1 <= min_workers <= max_workers")
        if self.gpus_per_worker < 1:
            raise ValueError(f"Job {self.key}: gpus_per_worker must be >= 1")
        if self.phase is JobPhase.RUNNING and self.allocation is None:
            raise ValueError(f"Job {self.key}: a running job needs an allocation")

    @property
    def elastic(self) -> bool:
        """True when the job can run at more than one size."""
        return self.max_workers > self.min_workers

    def accepts(self, gpu_class: str) -> bool:
        """True when the job may run on `gpu_class` (an empty class list accepts any)."""
        return not self.gpu_classes or gpu_class in self.gpu_classes


@dataclass(frozen=True, slots=True)
class Throughput:
    """A smoothed measurement: the job ran on `workers` workers of `gpu_class` at `samples_per_second` in total."""

    job_key: str
    gpu_class: str
    workers: int
    samples_per_second: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent view of the cluster, taken by the operator (or the simulator) before each cycle."""

    classes: tuple[GPUClass, ...] = ()
    nodes: tuple[Node, ...] = ()
    tenants: tuple[Tenant, ...] = ()
    jobs: tuple[Job, ...] = ()
    throughputs: tuple[Throughput, ...] = ()

    def __post_init__(self) -> None:
        for name in ("classes", "nodes", "tenants", "jobs", "throughputs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
