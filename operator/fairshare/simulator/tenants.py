"""Tenant settings for a run: weights, guarantees, borrowing limits and budgets, with equal-split defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


@dataclasses.dataclass(frozen=True)
class TenantSpec:
    """One tenant as the simulator configures it; `guaranteed` and `borrowing_limit` are GPUs per class."""

    name: str
    weight: float = 1.0
    guaranteed: Mapping[str, int] = dataclasses.field(default_factory=dict)
    borrowing_limit: Mapping[str, int] | None = None
    budget_per_period: float | None = None


def equal_split(capacity: Mapping[str, int], tenants: int, fraction: float = 1.0) -> dict[str, int]:
    """Each tenant's guarantee of each class: floor(fraction × capacity / tenants)."""
    return {c: int(fraction * n // tenants) for c, n in capacity.items()}


def default_tenants(names: Sequence[str], capacity: Mapping[str, int], guarantee_fraction: float = 1.0,
                    budget_per_period: float | None = None) -> tuple[TenantSpec, ...]:
    """Equal weights; guarantees are an equal split of every class; no borrowing limit; one shared budget."""
    guaranteed = equal_split(capacity, max(len(names), 1), guarantee_fraction)
    return tuple(TenantSpec(n, 1.0, dict(guaranteed), None, budget_per_period) for n in names)


def apply_overrides(tenants: Sequence[TenantSpec], doc: Mapping[str, Any]) -> tuple[TenantSpec, ...]:
    """Override named tenants from `{tenants: [{name, weight, guaranteed, borrowingLimit, budget}]}`."""
    overrides = {}
    for i, entry in enumerate(doc.get("tenants") or []):
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise RuntimeError(f"tenants[{i}]: expected a mapping with a name")
        overrides[str(entry["name"])] = entry
    unknown = set(overrides) - {t.name for t in tenants}
    if unknown:
        raise RuntimeError(f"tenants file names tenants the workload lacks: {', '.join(sorted(unknown))}")
    result = []
    for tenant in tenants:
        entry = overrides.get(tenant.name, {})
        result.append(dataclasses.replace(
            tenant,
            weight=float(entry.get("weight", tenant.weight)),
            guaranteed={str(k): int(v) for k, v in entry.get("guaranteed", tenant.guaranteed).items()},
            borrowing_limit=({str(k): int(v) for k, v in entry["borrowingLimit"].items()}
                             if entry.get("borrowingLimit") is not None else tenant.borrowing_limit),
            budget_per_period=(float(entry["budget"]) if entry.get("budget") is not None
                               else tenant.budget_per_period)))
    return tuple(result)


def load_overrides(tenants: Sequence[TenantSpec], path: Path | None) -> tuple[TenantSpec, ...]:
    if path is None:
        return tuple(tenants)
    return apply_overrides(tenants, yaml.safe_load(path.read_text()) or {})
