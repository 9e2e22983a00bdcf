"""Simulated cluster shapes: presets, a nodePools YAML, or a fleet sampled from Alibaba PAI's machine list."""

from __future__ import annotations

import csv
import dataclasses
import math
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from fairshare.localcluster.shape import load_pools
from fairshare.simulator.throughput_matrix import ThroughputMatrix


@dataclasses.dataclass(frozen=True)
class ClassInfo:
    """How a GPU class is simulated: the matrix row it reads (times `speed_factor`), list price and power."""

    matrix_type: str
    speed_factor: float
    price_per_gpu_hour: float
    power_watts: float


# Prices are on-demand cloud list prices per GPU-hour (K80 p2.xlarge, P100 GCP, V100 p3.2xlarge, T4 g4dn) taken
# as credits; power is board TDP per GPU (a K80 board is 300 W for 2 GPUs). Classes that Gavel's matrix does not
# measure borrow a measured row times an assumed speed factor: a rough prior, stated in docs/simulator.md.
CLASS_CATALOGUE: dict[str, ClassInfo] = {
    "k80": ClassInfo("k80", 1.0, 0.90, 150.0),
    "p100": ClassInfo("p100", 1.0, 1.46, 250.0),
    "v100": ClassInfo("v100", 1.0, 3.06, 300.0),
    "v100m32": ClassInfo("v100", 1.0, 3.06, 300.0),
    "t4": ClassInfo("p100", 0.6, 0.53, 70.0),
    "misc": ClassInfo("k80", 1.0, 0.50, 150.0),
    "l4": ClassInfo("v100", 0.8, 0.80, 72.0),
    "a100": ClassInfo("v100", 2.0, 4.10, 400.0),
    "h100": ClassInfo("v100", 3.0, 6.98, 700.0),
}


@dataclasses.dataclass(frozen=True)
class SimClass:
    name: str
    info: ClassInfo


@dataclasses.dataclass(frozen=True)
class SimNode:
    name: str
    gpu_class: str
    gpus: int


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """GPU classes and the nodes that carry them; a gang on one node runs consolidated, across nodes spread."""

    name: str
    classes: tuple[SimClass, ...]
    nodes: tuple[SimNode, ...]

    def capacity(self) -> dict[str, int]:
        totals = {c.name: 0 for c in self.classes}
        for node in self.nodes:
            totals[node.gpu_class] += node.gpus
        return totals

    def total_gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    def info(self, gpu_class: str) -> ClassInfo:
        return next(c.info for c in self.classes if c.name == gpu_class)


def class_info(name: str) -> ClassInfo:
    try:
        return CLASS_CATALOGUE[name.lower()]
    except KeyError:
        raise RuntimeError(f"GPU class {name!r} has no simulated throughput; known: {', '.join(CLASS_CATALOGUE)}") \
            from None


def build_cluster(name: str, pools: Iterable[tuple[str, int, int]]) -> ClusterSpec:
    """A cluster from (gpu_class, node_count, gpus_per_node) pools; nodes are named `<class>-<index>`."""
    classes: dict[str, SimClass] = {}
    nodes: list[SimNode] = []
    for gpu_class, count, gpus_per_node in pools:
        key = gpu_class.lower()
        classes.setdefault(key, SimClass(key, class_info(key)))
        start = sum(1 for n in nodes if n.gpu_class == key)
        nodes += [SimNode(f"{key}-{start + i:03d}", key, gpus_per_node) for i in range(count)]
    return ClusterSpec(name, tuple(classes.values()), tuple(nodes))


PRESETS: dict[str, tuple[tuple[str, int, int], ...]] = {
    # Gavel's 36:36:36 cluster as 4-GPU servers: gangs of 1, 2 or 4 can sit on one server (consolidated);
    # 8-GPU gangs always span two servers and run at the `_unconsolidated` throughput.
    "gavel-36": (("v100", 9, 4), ("p100", 9, 4), ("k80", 9, 4)),
    # Gavel's simulator as its reference runs set it up: every gang runs consolidated, as one 36-GPU node per class.
    "gavel-36-node": (("v100", 1, 36), ("p100", 1, 36), ("k80", 1, 36)),
    # The same 108 GPUs one per node: every multi-GPU gang is spread.
    "gavel-36-1gpu": (("v100", 36, 1), ("p100", 36, 1), ("k80", 36, 1)),
    "tiny": (("v100", 1, 4), ("k80", 1, 4)),
}


def preset(name: str) -> ClusterSpec:
    if name not in PRESETS:
        raise RuntimeError(f"unknown cluster preset {name!r}; known: {', '.join(PRESETS)}, or pai-<machines>")
    return build_cluster(name, PRESETS[name])


def from_shape_file(path: Path) -> ClusterSpec:
    """A `nodePools: [{gpuClass, count, gpusPerNode}]` file, the same format as `fairshare cluster up --shape`."""
    return build_cluster(path.stem, ((p.gpu_class, p.count, p.gpus_per_node) for p in load_pools(path)))


def sample_pai_fleet(rows: Sequence[Sequence[str]], machines: int, rng: random.Random) -> ClusterSpec:
    """`machines` GPU machines sampled without replacement from pai_machine_spec.csv rows
    (machine, gpu_type, cap_cpu, cap_mem, cap_gpu); CPU-only machines are skipped."""
    gpu_rows = [r for r in rows if len(r) == 5 and r[1] != "CPU" and int(r[4]) > 0]
    chosen = rng.sample(gpu_rows, min(machines, len(gpu_rows)))
    counts: dict[tuple[str, int], int] = {}
    for row in chosen:
        counts[(row[1].lower(), int(row[4]))] = counts.get((row[1].lower(), int(row[4])), 0) + 1
    return build_cluster(f"pai-{machines}", ((c, n, g) for (c, g), n in sorted(counts.items())))


def load_pai_fleet(data_dir: Path, machines: int, rng: random.Random) -> ClusterSpec:
    with (data_dir / "alibaba_pai2020" / "pai_machine_spec.csv").open() as f:
        return sample_pai_fleet(list(csv.reader(f)), machines, rng)


def relative_speeds(cluster: ClusterSpec, matrix: ThroughputMatrix) -> dict[str, float]:
    """Each class's prior speed: geometric mean over 1-GPU templates of its steps/s over the slowest class's."""
    logs: dict[str, float] = {}
    for sim_class in cluster.classes:
        rates = [matrix.steps_per_second(j, sim_class.info.matrix_type, 1) * sim_class.info.speed_factor
                 for j in matrix.job_types()]
        positive = [math.log(r) for r in rates if r > 0]
        logs[sim_class.name] = sum(positive) / len(positive) if positive else 0.0
    slowest = min(logs.values())
    return {name: round(math.exp(value - slowest), 3) for name, value in logs.items()}
