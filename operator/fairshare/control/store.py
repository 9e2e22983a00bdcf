"""The operator's in-memory view of the cluster: raw object bodies by kind and key, kept current by watch events."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

Body = dict[str, Any]

NODES = "nodes"
GPU_CLASSES = "gpuclasses"
TENANTS = "tenants"
TRAINING_JOBS = "trainingjobs"
PODS = "pods"
KINDS = (NODES, GPU_CLASSES, TENANTS, TRAINING_JOBS, PODS)


def object_key(body: Mapping[str, Any]) -> str:
    """`namespace/name` for namespaced objects, `name` for cluster-scoped ones."""
    meta = body["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])


MAX_TOMBSTONES = 20_000  # deletions remembered (the oldest forgotten first): far more than a resync's LIST spans


def _uid(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("uid") or "")


def _resource_version(body: Mapping[str, Any]) -> int:
    try:
        return int(body["metadata"].get("resourceVersion", 0))
    except (TypeError, ValueError):
        return 0


_JSON_SCALARS = (str, int, float, bool, type(None))


def json_copy(value: Any) -> Any:
    """A copy of a JSON document (dicts, lists, scalars): what `copy.deepcopy` gives for one, about 3x faster,
    since it tracks no shared references (JSON has none). Every body the store holds passes through it."""
    kind = type(value)
    if kind is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if kind is list:
        return [json_copy(v) for v in value]
    if kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value)  # not JSON (a test's tuple, a client's model): copied the slow, general way


@dataclasses.dataclass
class Store:
    """Latest known body of every watched object. Writes of our own (patch responses) go in at once, so a cycle
    never acts on a state older than one it has itself produced; an older watch event never overwrites a newer
    body (etcd's resourceVersions increase, and kube-apiserver hands them out in that order)."""

    objects: dict[str, dict[str, Body]] = dataclasses.field(default_factory=lambda: {k: {} for k in KINDS})
    # TrainingJob key -> (allocation generation, the API server's message): the job's worker pods of that generation
    # were refused at creation (too large, invalid, denied by admission), so they will be refused again.
    rejected: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)

    # (kind, key) -> (uid, resourceVersion) of objects deleted lately: a body of the same object no newer than its
    # deletion (a resync's LIST taken before it, a write's response read after it) does not bring it back.
    tombstones: dict[tuple[str, str], tuple[str, int]] = dataclasses.field(default_factory=dict)

    def put(self, kind: str, body: Mapping[str, Any]) -> bool:
        """Store a body unless a newer one is already held, or the object was deleted since; True when the store
        changed."""
        key = object_key(body)
        held = self.objects[kind].get(key)
        version = _resource_version(body)
        if held is not None and _resource_version(held) >= version > 0:
            return False  # older, or the watch echo of a write whose response is already held
        tomb = self.tombstones.get((kind, key))
        if tomb is not None:
            if tomb[0] == _uid(body) and version <= tomb[1]:
                return False  # a ghost: this object was deleted after this version of it
            del self.tombstones[(kind, key)]  # created again (another uid), or a newer version
        self.objects[kind][key] = json_copy(dict(body))
        return True

    def delete(self, kind: str, body: Mapping[str, Any]) -> bool:
        key = object_key(body)
        if kind == TRAINING_JOBS:
            self.rejected.pop(key, None)
        held = self.objects[kind].pop(key, None)
        version = max(_resource_version(body), _resource_version(held) if held is not None else 0)
        self.tombstones.pop((kind, key), None)
        self.tombstones[(kind, key)] = (_uid(body) or (_uid(held) if held is not None else ""), version)
        while len(self.tombstones) > MAX_TOMBSTONES:
            del self.tombstones[next(iter(self.tombstones))]
        return held is not None

    def get(self, kind: str, key: str) -> Body | None:
        return self.objects[kind].get(key)

    def all(self, kind: str) -> Iterator[Body]:
        return iter(list(self.objects[kind].values()))

    def __len__(self) -> int:
        return sum(len(v) for v in self.objects.values())
