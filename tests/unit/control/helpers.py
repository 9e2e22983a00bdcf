"""Helpers for the control tests: run a cycle on bodies, summarize its actions, a scheduler told what to say."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fairshare.control.actions import Action, DeletePods, EnsureChildren, PatchStatus, RecordEvent, action_key
from fairshare.control.plan import CyclePlan, Scheduler, plan_cycle
from fairshare.control.snapshot import build_world
from fairshare.control.store import Store
from fairshare.core import types as core
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import CycleResult, Decision
from fairshare.render import DEFAULT_SETTINGS
from tests.unit.control.builders import NOW, store_of

HOSTNAME = "kubernetes.io/hostname"
Row = tuple[Any, ...]


def plan(store: Store | Iterable[Any], now: float = NOW, scheduler: Scheduler | None = None) -> CyclePlan:
    """One cycle over a store (or the bodies/builders of one) at `now`, with the real core unless told otherwise."""
    store = store if isinstance(store, Store) else store_of(*store)
    world = build_world(store, now)
    if scheduler is None:
        return plan_cycle(world, now, PolicyConfig(), DEFAULT_SETTINGS)
    return plan_cycle(world, now, PolicyConfig(), DEFAULT_SETTINGS, scheduler=scheduler)


def row(action: Action) -> Row:
    """One action as a short row: ("patch", key, phase, rv), ("ensure", key, pods), ("delete", key, names),
    ("event", key, type, reason)."""
    if isinstance(action, PatchStatus):
        return ("patch", action.key, action.status.get("phase"), action.resource_version)
    if isinstance(action, EnsureChildren):
        return ("ensure", action.job_key, tuple(p["metadata"]["name"] for p in action.pods))
    if isinstance(action, DeletePods):
        return ("delete", action.job_key, action.names)
    assert isinstance(action, RecordEvent)
    return ("event", action.job_key, action.type, action.reason)


def rows(actions: Iterable[Action], key: str | None = None) -> list[Row]:
    """Rows of every action, or of the actions about one object."""
    return [row(a) for a in actions if key is None or action_key(a) == key]


def pinned_nodes(action: EnsureChildren) -> list[str]:
    """The node each pod is pinned to, by rank."""
    return [p["spec"]["nodeSelector"][HOSTNAME] for p in action.pods]


def told(*decisions: Decision, prices: dict[str, float] | None = None,
         fair_shares: dict[str, dict[str, float]] | None = None, charges: dict[str, float] | None = None,
         share_ratios: dict[str, float] | None = None, seen: list[core.Snapshot] | None = None) -> Scheduler:
    """A scheduler that returns exactly these decisions and numbers (and records the snapshot it was given)."""
    def scheduler(snapshot: core.Snapshot, now: float, config: PolicyConfig) -> CycleResult:
        if seen is not None:
            seen.append(snapshot)
        return CycleResult(decisions=tuple(decisions), prices=prices or {}, fair_shares=fair_shares or {},
                           step_seconds={}, charges=charges or {}, share_ratios=share_ratios or {})
    return scheduler


def of_kind(actions: Sequence[Action], kind: type) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]
