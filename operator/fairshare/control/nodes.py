"""Which nodes the operator counts on: a Ready, uncordoned node takes new gangs; a deleted node, or one NotReady past a
grace period, is lost, and the gangs on it restart elsewhere from their checkpoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from fairshare.control.podstate import timestamp


@dataclasses.dataclass(frozen=True)
class NodeState:
    """What scheduling reads from a Node: whether it is Ready (and since when that last changed), and cordoned."""

    ready: bool
    since: float | None = None  # lastTransitionTime of its Ready condition; None when it reports none
    cordoned: bool = False

    @property
    def usable(self) -> bool:
        """Ready and not cordoned: a node that may receive new gangs and whose idle GPUs count as capacity."""
        return self.ready and not self.cordoned


def node_state(body: Mapping[str, Any]) -> NodeState:
    ready = next((c for c in (body.get("status") or {}).get("conditions") or []
                  if isinstance(c, dict) and c.get("type") == "Ready"), None)
    return NodeState(ready=ready is not None and ready.get("status") == "True",
                     since=timestamp(ready.get("lastTransitionTime")) if ready is not None else None,
                     cordoned=bool((body.get("spec") or {}).get("unschedulable")))


def why_lost(nodes: Mapping[str, NodeState], name: str, now: float, grace_seconds: float) -> str | None:
    """Rule: a node is lost when it no longer exists, or when it has not been Ready for `grace_seconds` (by its Ready
    condition's lastTransitionTime; a node that reports no Ready condition at all is new, not lost). A cordoned node
    is not lost: the gangs on it run on. Returns why, in words, or None."""
    state = nodes.get(name)
    if state is None:
        return f"node {name} no longer exists"
    if state.ready or state.since is None:
        return None
    down = now - state.since
    if down < grace_seconds:
        return None
    return f"node {name} has not been Ready for {down:.0f}s (grace {grace_seconds:.0f}s)"
