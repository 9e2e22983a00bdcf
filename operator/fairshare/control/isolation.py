"""Objects set aside: one that cannot be read, translated or planned is left out of the cycle alone, and reported.

Every watched object is input that someone else wrote (a Pod, a Node's allocatable, a TrainingJob in any namespace),
so reading one may raise. Each step that reads or plans one object does so through `SetAsideLog.attempt`: an
exception leaves that object out of this cycle, recorded with its kind, key, a bounded reason and a message naming
the field where one is known, and the cycle goes on for everyone else. The plan reports what was set aside on the
object where the operator may write (control/set_aside.py), the loop logs each once and counts them by kind and reason
(`fairshare_objects_set_aside`).
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from fairshare.api import SpecError
from fairshare.api.quantity import QuantityError
from fairshare.control.store import GPU_CLASSES, NODES, PODS, TENANTS, TRAINING_JOBS
from fairshare.core import types as core
from fairshare.core.config import PolicyConfig
from fairshare.core.decisions import CycleResult

T = TypeVar("T")
P = ParamSpec("P")

# Reasons, a bounded set (a metric label and a condition reason).
INVALID_SPEC = "InvalidSpec"  # the body breaks the API's rules; the message names the field (SpecError)
INVALID_QUANTITY = "InvalidQuantity"  # a quantity that cannot be read, or not used as it is (QuantityError)
UNREADABLE = "Unreadable"  # anything else raised while reading or planning it: a malformed body, or a bug
SCHEDULING_ERROR = "SchedulingError"  # the scheduling core raised on a snapshot holding it, and not without it
REASONS = (INVALID_SPEC, INVALID_QUANTITY, UNREADABLE, SCHEDULING_ERROR)

KIND_NAMES = {TRAINING_JOBS: "TrainingJob", TENANTS: "Tenant", GPU_CLASSES: "GPUClass", NODES: "Node", PODS: "Pod"}
MAX_MESSAGE = 1024


@dataclasses.dataclass(frozen=True)
class SetAside:
    """One object left out of this cycle: kind (the store's), key, reason (one of REASONS) and a message."""

    kind: str
    key: str
    reason: str
    message: str
    trace: str = dataclasses.field(default="", compare=False)  # the traceback of an unexpected exception

    @property
    def ref(self) -> str:
        return ref(self.kind, self.key)


def ref(kind: str, key: str) -> str:
    """`tenant/nlp`, `trainingjob/nlp/bert`: an object's kind and key, as logs and World.problems name it."""
    return f"{KIND_NAMES.get(kind, kind).lower()}/{key}"


def reason_of(err: BaseException) -> str:
    if isinstance(err, SpecError):
        return INVALID_SPEC
    if isinstance(err, QuantityError):
        return INVALID_QUANTITY
    return UNREADABLE


def message_of(err: BaseException) -> str:
    """What went wrong, bounded: a SpecError or QuantityError names the field and the value; anything else is
    named by its type, since its text was not written for the object's owner."""
    text = str(err) if isinstance(err, SpecError | QuantityError) else f"{type(err).__name__}: {err}"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


class SetAsideLog:
    """The objects set aside in one cycle, by `ref`; the first reason recorded for an object is the one kept."""

    def __init__(self) -> None:
        self.entries: dict[str, SetAside] = {}

    def add(self, kind: str, key: str, reason: str, message: str, trace: str = "") -> None:
        entry = SetAside(kind, key, reason, message, trace)
        self.entries.setdefault(entry.ref, entry)

    def failed(self, kind: str, key: str, err: BaseException, consequence: str = "") -> None:
        """Record that reading or planning the object raised `err` (and what the operator assumes instead)."""
        expected = isinstance(err, SpecError | QuantityError)
        self.add(kind, key, reason_of(err), message_of(err) + consequence, "" if expected else traceback.format_exc())

    def attempt(self, kind: str, key: str, step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """step(*args, **kwargs), or None once it raised (the object is then set aside). Only Exception is caught:
        a KeyboardInterrupt or a cancelled task still stops the cycle."""
        try:
            return step(*args, **kwargs)
        except Exception as err:
            self.failed(kind, key, err)
            return None

    def holds(self, kind: str, key: str) -> bool:
        return ref(kind, key) in self.entries


def key_of(body: Any) -> str:
    """An object's key for a report, read defensively (a body too broken for object_key still gets named)."""
    meta = body.get("metadata") if isinstance(body, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    name, namespace = str(meta.get("name", "?")), meta.get("namespace")
    return f"{namespace}/{name}" if namespace else name


# --- the scheduling core ---------------------------------------------------------------------------------------------

Scheduler = Callable[[core.Snapshot, float, PolicyConfig], CycleResult]
MAX_CULPRITS = 4  # objects set aside in one cycle for making the core raise, before the cycle gives up


def schedule_isolating(scheduler: Scheduler, snapshot: core.Snapshot, now: float, config: PolicyConfig,
                       log: SetAsideLog) -> tuple[CycleResult, core.Snapshot]:
    """The core's result, and the snapshot it was computed on. Should the core raise, the object it raises on is
    found by bisection (about log2(objects) more runs of the core) and set aside, and the core runs again without
    it; after MAX_CULPRITS such objects, or when the core raises even on an empty snapshot, the error is raised."""
    current = snapshot
    for attempt in range(MAX_CULPRITS + 1):
        try:
            return scheduler(current, now, config), current
        except Exception as err:
            failure, trace = err, traceback.format_exc()
        culprit = None if attempt == MAX_CULPRITS else _culprit(scheduler, current, now, config, _suspects(current))
        if culprit is None:
            break
        log.add(culprit[0], culprit[1], SCHEDULING_ERROR,
                f"the scheduling core raised {type(failure).__name__} ({str(failure)[:200]}) on a snapshot holding "
                f"this {KIND_NAMES[culprit[0]]}, and not without it", trace)
        current = without(current, [culprit])
    raise failure


Suspect = tuple[str, str]  # (kind, key)


def _suspects(snapshot: core.Snapshot) -> list[Suspect]:
    """Every object of the snapshot, finest first: jobs, nodes, classes, tenants (a tenant goes with its jobs)."""
    return ([(TRAINING_JOBS, j.key) for j in snapshot.jobs] + [(NODES, n.name) for n in snapshot.nodes]
            + [(GPU_CLASSES, c.name) for c in snapshot.classes] + [(TENANTS, t.name) for t in snapshot.tenants])


def _culprit(scheduler: Scheduler, snapshot: core.Snapshot, now: float, config: PolicyConfig,
             suspects: list[Suspect]) -> Suspect | None:
    """The suspect whose removal, with those before it, first lets the core run: by bisection on that prefix."""
    def runs(count: int) -> bool:
        try:
            scheduler(without(snapshot, suspects[:count]), now, config)
            return True
        except Exception:
            return False

    if not suspects or not runs(len(suspects)):
        return None
    failing, passing = 0, len(suspects)
    while passing - failing > 1:
        middle = (failing + passing) // 2
        if runs(middle):
            passing = middle
        else:
            failing = middle
    return suspects[passing - 1]


def without(snapshot: core.Snapshot, suspects: list[Suspect]) -> core.Snapshot:
    """The snapshot without these objects. A job removed keeps its GPUs held; so do the jobs of a tenant removed,
    and jobs holding GPUs of a node or class removed (which leave with it)."""
    out = {kind: {key for k, key in suspects if k == kind} for kind in (TRAINING_JOBS, NODES, GPU_CLASSES, TENANTS)}
    jobs_out = out[TRAINING_JOBS] | {
        j.key for j in snapshot.jobs
        if j.tenant in out[TENANTS] or (j.allocation is not None and (
            j.allocation.gpu_class in out[GPU_CLASSES] or not out[NODES].isdisjoint(j.allocation.nodes)))}
    held: dict[str, int] = {}
    for job in snapshot.jobs:
        if job.key in jobs_out and job.allocation is not None:
            for node in job.allocation.nodes:
                held[node] = held.get(node, 0) + job.gpus_per_worker
    return core.Snapshot(
        classes=tuple(c for c in snapshot.classes if c.name not in out[GPU_CLASSES]),
        nodes=tuple(dataclasses.replace(n, gpus=max(0, n.gpus - held.get(n.name, 0))) for n in snapshot.nodes
                    if n.name not in out[NODES] and n.gpu_class not in out[GPU_CLASSES]),
        tenants=tuple(t for t in snapshot.tenants if t.name not in out[TENANTS]),
        jobs=tuple(j for j in snapshot.jobs if j.key not in jobs_out),
        throughputs=tuple(t for t in snapshot.throughputs if t.job_key not in jobs_out))
