"""Gavel's measured throughput table (steps/s per job type, GPU type and gang size) and the lookup rules on it."""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

UNCONSOLIDATED_SUFFIX = "_unconsolidated"
_BATCH_SIZE = re.compile(r"^(?P<model>.*?) \(batch size (?P<batch>\d+)\)$")


@dataclasses.dataclass(frozen=True)
class ThroughputMatrix:
    """Isolated steps/s keyed by (gpu_type, job_type, gpus); `spread` holds the multi-server (unconsolidated) rows.

    Only the "null" entries (job alone on its GPUs) are kept: the simulator never co-locates jobs on a GPU.
    """

    consolidated: Mapping[tuple[str, str, int], float]
    spread: Mapping[tuple[str, str, int], float]

    def gpu_types(self) -> tuple[str, ...]:
        return tuple(sorted({g for g, _, _ in self.consolidated}))

    def job_types(self) -> tuple[str, ...]:
        return tuple(sorted({j for _, j, _ in self.consolidated}))

    def measured_sizes(self, job_type: str) -> tuple[int, ...]:
        return self._sizes_by_job_type.get(job_type, ())

    @functools.cached_property
    def _sizes_by_job_type(self) -> dict[str, tuple[int, ...]]:
        sizes: dict[str, set[int]] = {}
        for _, job_type, n in self.consolidated:
            sizes.setdefault(job_type, set()).add(n)
        return {j: tuple(sorted(ns)) for j, ns in sizes.items()}

    def steps_per_second(self, job_type: str, gpu_type: str, gpus: int, consolidated: bool = True) -> float:
        """Steps/s of `job_type` on a gang of `gpus` GPUs of `gpu_type`; 0.0 means it cannot run there.

        Sizes not in the table (3, 12, 16, 64, ...) scale linearly from the largest measured size below them,
        an optimistic extrapolation that Gavel's table cannot refine. A gang spread over servers uses the
        `_unconsolidated` row when there is one, else the consolidated one.
        """
        sizes = self.measured_sizes(job_type)
        below = [n for n in sizes if n <= gpus]
        if gpus < 1 or not below:
            return 0.0
        size = below[-1]
        key = (gpu_type, job_type, size)
        base = self.consolidated.get(key, 0.0)
        if not consolidated and size > 1:
            base = self.spread.get(key, base)
        return base * gpus / size


def parse_matrix(doc: Mapping[str, Any]) -> ThroughputMatrix:
    """Read Gavel's JSON schema `{gpu_type: {"(job_type, scale)": {"null": steps_per_s, ...}}}`."""
    consolidated: dict[tuple[str, str, int], float] = {}
    spread: dict[tuple[str, str, int], float] = {}
    for gpu_type, rows in doc.items():
        target, name = ((spread, gpu_type.removesuffix(UNCONSOLIDATED_SUFFIX))
                        if gpu_type.endswith(UNCONSOLIDATED_SUFFIX) else (consolidated, gpu_type))
        for key, entry in rows.items():
            job_type, scale = ast.literal_eval(key)
            target[(name, str(job_type), int(scale))] = float(entry["null"])
    return ThroughputMatrix(consolidated=consolidated, spread=spread)


def load_matrix(path: Path) -> ThroughputMatrix:
    return parse_matrix(json.loads(path.read_text()))


def batch_size_of(job_type: str) -> int:
    """The batch size a Gavel template names ("ResNet-18 (batch size 32)" → 32); 1 when it names none."""
    match = _BATCH_SIZE.match(job_type)
    return int(match["batch"]) if match else 1


def model_of(job_type: str) -> str:
    """The model a template trains, without its batch size ("ResNet-18 (batch size 32)" → "ResNet-18")."""
    match = _BATCH_SIZE.match(job_type)
    return match["model"] if match else job_type


def batch_ladder(matrix: ThroughputMatrix, job_type: str) -> tuple[str, ...]:
    """The templates of the same model with batch size ≥ this one's, smallest first: where adaptation can go."""
    model, start = model_of(job_type), batch_size_of(job_type)
    same_model = [j for j in matrix.job_types() if model_of(j) == model and batch_size_of(j) >= start]
    return tuple(sorted(same_model, key=batch_size_of)) or (job_type,)
