"""A tiny in-memory API server for multi-cycle tests: applies a plan's actions to a Store as the real one would.

Status writes are JSON merge patches, conditional on resourceVersion when the action carries one (a stale one
is a 409 that skips the rest of that object's actions, as the Applier does). Pods are created if absent by name
(409 otherwise, ignored); deleted pods linger, terminating, until `settle()` (the kubelet's grace period), unless
deleted with force.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from typing import Any

from fairshare.control.actions import Action, DeletePods, EnsureChildren, PatchStatus, RecordEvent, action_key
from fairshare.control.store import PODS, Store

HOSTNAME_LABEL = "kubernetes.io/hostname"


@dataclasses.dataclass
class ApplySummary:
    conflicts: int = 0
    errors: int = 0


class Conflict(Exception):
    """409: the object changed since the resourceVersion the write was conditional on."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


@dataclasses.dataclass
class FakeCluster:
    store: Store
    resource_version: int = 1000
    events: list[RecordEvent] = dataclasses.field(default_factory=list)
    created: list[str] = dataclasses.field(default_factory=list)  # pod keys, in creation order
    conflicts: int = 0
    refuse: dict[str, str] = dataclasses.field(default_factory=dict)  # job key -> why its pods are refused (422)

    def _bump(self, body: dict[str, Any]) -> None:
        self.resource_version += 1
        body["metadata"]["resourceVersion"] = str(self.resource_version)

    def apply(self, actions: Iterable[Action]) -> ApplySummary:
        """Apply in order; returns what the Applier's summary would say (only conflicts can happen here)."""
        failed: set[str] = set()
        summary = ApplySummary()
        for action in actions:
            if action_key(action) in failed:
                continue
            try:
                self._apply(action)
            except Conflict:
                self.conflicts += 1
                summary.conflicts += 1
                failed.add(action_key(action))
        return summary

    def _apply(self, action: Action) -> None:
        if isinstance(action, PatchStatus):
            body = copy.deepcopy(self.store.get(action.kind, action.key))
            assert body is not None, f"patch of a missing object {action.key}"
            if action.resource_version and action.resource_version != body["metadata"].get("resourceVersion"):
                raise Conflict(action.key)
            body["status"] = merge_patch(body.get("status") or {}, action.status)
            self._bump(body)
            self.store.put(action.kind, body)
        elif isinstance(action, EnsureChildren):
            if action.job_key in self.refuse:  # as the Applier records a refusal for good
                generation = action.pods[0]["metadata"]["labels"]["fairshare.dev/generation"]
                self.store.rejected[action.job_key] = (generation, "pods", self.refuse[action.job_key])
                return
            for pod in action.pods:
                key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
                if self.store.get(PODS, key) is not None:
                    continue  # AlreadyExists: create-if-absent
                body = copy.deepcopy(pod)
                body["spec"]["nodeName"] = body["spec"]["nodeSelector"][HOSTNAME_LABEL]
                body["status"] = {"phase": "Pending"}
                self._bump(body)
                self.store.put(PODS, body)
                self.created.append(key)
        elif isinstance(action, DeletePods):
            namespace = action.job_key.split("/", 1)[0]
            for name in action.names:
                body = copy.deepcopy(self.store.get(PODS, f"{namespace}/{name}"))
                if body is not None and action.force:  # grace period 0: gone at once
                    self.store.delete(PODS, body)
                elif body is not None:
                    body["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
                    self._bump(body)
                    self.store.put(PODS, body)
        elif isinstance(action, RecordEvent):
            self.events.append(action)

    def settle(self) -> None:
        """Terminating pods finish their grace period and disappear."""
        for body in list(self.store.all(PODS)):
            if body["metadata"].get("deletionTimestamp"):
                self.store.delete(PODS, body)

    def set_pod_phase(self, key: str, phase: str, exit_code: int | None = None) -> None:
        body = copy.deepcopy(self.store.get(PODS, key))
        assert body is not None, key
        body["status"] = {"phase": phase}
        if exit_code is not None:
            body["status"]["containerStatuses"] = [{"name": "trainer",
                                                    "state": {"terminated": {"exitCode": exit_code}}}]
        self._bump(body)
        self.store.put(PODS, body)

    def run_all_pods(self) -> None:
        """The kubelet starts every pod that is not terminating."""
        for body in list(self.store.all(PODS)):
            if not body["metadata"].get("deletionTimestamp") and body["status"]["phase"] == "Pending":
                self.set_pod_phase(f"{body['metadata']['namespace']}/{body['metadata']['name']}", "Running")
