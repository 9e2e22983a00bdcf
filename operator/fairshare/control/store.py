"""The operator's in-memory view of the cluster: raw object bodies by kind and key, kept current by watch events.

A deleted object must not come back from a body read before its deletion: a periodic resync's LIST taken before it
and applied after it, or a write's response read after it (a ghost: the cycle would plan for it, and the Tenant's
ledger see it again). Both rules use resourceVersions, which etcd hands out increasing over the whole cluster; they
are opaque by the API's contract but integers in practice, parsed as such; a version that is not a number falls back
to the plain behaviour (a LIST removes whatever it lacks, a deletion keeps no tombstone):
- a resync removes an object its LIST lacks only if the stored body is no newer than the LIST (one created or
  changed after the LIST's snapshot, already seen by the watch, stays);
- a deletion leaves a tombstone, (UID, resourceVersion of the deletion, or of the LIST that found the object gone),
  that refuses a body of that UID no newer than it; another UID (the object created again) or a newer version goes
  in. Tombstones expire after TOMBSTONE_SECONDS, far beyond the time a LIST or a write's response can take.
A TrainingJob's tombstone also keeps its last body's metadata and status and the wall-clock time it was seen gone
(`departed`), for the charge of a job deleted while it ran (control/ledger.py).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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


TOMBSTONE_SECONDS = 600.0  # how long a deletion refuses older bodies of the object
MAX_TOMBSTONES = 50_000  # and at most this many are kept (the oldest forgotten first)


def numeric_version(value: Any) -> int | None:
    """A resourceVersion as an integer (etcd's, in practice), or None when it is absent or not a number."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _resource_version(body: Mapping[str, Any]) -> int:
    return numeric_version((body.get("metadata") or {}).get("resourceVersion")) or 0


def _uid(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("uid") or "")


@dataclasses.dataclass(frozen=True)
class Tombstone:
    """A deleted object: its UID, the resourceVersion it was gone at, and when (the store's clock) it was recorded."""

    uid: str
    version: int
    at: float
    body: Body | None = None  # a TrainingJob's last metadata and status (last_body)
    seen_gone: float | None = None  # when (wall clock) it was seen gone, with `body`


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


def stored_copy(body: Mapping[str, Any]) -> Body:
    """What the store keeps of a body: a copy without `metadata.managedFields`, server-side apply's record of who set
    which field, which nothing in the operator reads. It is half of a pod's JSON and three quarters of the dicts and
    lists a pod or a TrainingJob is made of (measured on `make up`'s objects), so the store's heap, the garbage
    collector's scans and each copy shrink with it (213 to 67 us a pod)."""
    copied: Body = {}
    for k, v in body.items():
        if k == "metadata" and type(v) is dict:
            copied[k] = {mk: json_copy(mv) for mk, mv in v.items() if mk != "managedFields"}
        else:
            copied[k] = json_copy(v)
    return copied


def last_body(body: Mapping[str, Any], held: Mapping[str, Any] | None) -> Body:
    """Of a deleted object's DELETED body and the one held, the newer (the first on a tie), cut to its metadata and
    status: what a tombstone keeps."""
    newest = held if held is not None and _resource_version(held) > _resource_version(body) else body
    meta = newest.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta},
            "status": json_copy(newest.get("status") or {})}


@dataclasses.dataclass
class Store:
    """Latest known body of every watched object. Writes of our own (patch responses) go in at once, so a cycle
    never acts on a state older than one it has itself produced; an older watch event never overwrites a newer
    body (etcd's resourceVersions increase, and kube-apiserver hands them out in that order)."""

    objects: dict[str, dict[str, Body]] = dataclasses.field(default_factory=lambda: {k: {} for k in KINDS})
    # TrainingJob key -> (allocation generation, resource, why): the job's worker pods of that generation were refused
    # at creation (too large, invalid, denied by admission), so they will be refused again; or ("services") its
    # rendezvous Service's name is held by a Service the operator did not create.
    rejected: dict[str, tuple[str, str, str]] = dataclasses.field(default_factory=dict)
    # (kind, key) -> the object's deletion, oldest first (module docstring)
    tombstones: dict[tuple[str, str], Tombstone] = dataclasses.field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time  # when a TrainingJob was seen gone (Tombstone.seen_gone)

    def put(self, kind: str, body: Mapping[str, Any]) -> bool:
        """Store a body unless a newer one is already held, or it is of an object deleted since (a ghost); True when
        the store changed."""
        key = object_key(body)
        held = self.objects[kind].get(key)
        if held is not None and _resource_version(held) >= _resource_version(body) > 0:
            return False  # older, or the watch echo of a write whose response is already held
        tomb = self.tombstones.get((kind, key))
        if tomb is not None:
            version = numeric_version((body.get("metadata") or {}).get("resourceVersion"))
            if tomb.uid == _uid(body) and version is not None and version <= tomb.version \
                    and self.clock() - tomb.at < TOMBSTONE_SECONDS:
                return False  # read before the object's deletion
            del self.tombstones[(kind, key)]  # created again (another UID), a newer version, or expired
        self.objects[kind][key] = stored_copy(body)
        return True

    def delete(self, kind: str, body: Mapping[str, Any], gone_at: int | None = None) -> bool:
        """Remove the object `body` names; True when it was held. Its tombstone keeps the UID and the version it was
        gone at: `gone_at` (a LIST's that lacked it), else the deletion's (the DELETED event's body), else the
        newest body held; none when no such version is a number."""
        key = object_key(body)
        if kind == TRAINING_JOBS:
            self.rejected.pop(key, None)
        held = self.objects[kind].pop(key, None)
        versions = [v for v in (gone_at, numeric_version((body.get("metadata") or {}).get("resourceVersion")),
                                numeric_version(((held or {}).get("metadata") or {}).get("resourceVersion")))
                    if v is not None]
        uid = _uid(body) or _uid(held or {})
        self.tombstones.pop((kind, key), None)
        if versions and uid:
            last = last_body(body, held) if kind == TRAINING_JOBS else None
            self.tombstones[(kind, key)] = Tombstone(uid, max(versions), self.clock(), last,
                                                     self.wall_clock() if last is not None else None)
        self._expire()
        return held is not None

    def resync(self, kind: str, listed: Iterable[Mapping[str, Any]], list_version: Any) -> None:
        """Apply a full LIST of `kind` taken at `list_version` (its metadata.resourceVersion): each item goes in
        unless the store holds a newer body or a tombstone refuses it (put); an object the LIST lacks is removed
        only if its stored body is no newer than the LIST (else it was created or changed after the LIST's
        snapshot, and the watch already told us). A version that is not a number removes whatever the LIST lacks."""
        at = numeric_version(list_version)
        keep = set()
        for body in listed:
            keep.add(object_key(body))
            self.put(kind, body)
        for held in self.all(kind):
            if object_key(held) in keep:
                continue
            version = numeric_version((held.get("metadata") or {}).get("resourceVersion"))
            if at is None or version is None or version <= at:
                self.delete(kind, held, gone_at=at)

    def departed(self, kind: str) -> list[tuple[Body, float]]:
        """The last bodies (metadata and status) of the objects of `kind` deleted within TOMBSTONE_SECONDS, each with
        the wall-clock time it was seen gone (kept for TrainingJobs only)."""
        return [(t.body, t.seen_gone) for (k, _), t in self.tombstones.items()
                if k == kind and t.body is not None and t.seen_gone is not None]

    def _expire(self) -> None:
        """Forget tombstones past TOMBSTONE_SECONDS, and the oldest beyond MAX_TOMBSTONES."""
        now = self.clock()
        while self.tombstones:
            first = next(iter(self.tombstones))
            if now - self.tombstones[first].at < TOMBSTONE_SECONDS and len(self.tombstones) <= MAX_TOMBSTONES:
                break
            del self.tombstones[first]

    def get(self, kind: str, key: str) -> Body | None:
        return self.objects[kind].get(key)

    def all(self, kind: str) -> Iterator[Body]:
        return iter(list(self.objects[kind].values()))

    def __len__(self) -> int:
        return sum(len(v) for v in self.objects.values())
