"""Apply a cycle's actions in order; actions on one object stop at its first failure (a lost race skips the rest).
Events are sent in the background, once the actions before them on the same object succeeded."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fairshare.api.constants import (
    GROUP,
    KIND_GPU_CLASS,
    KIND_TENANT,
    KIND_TRAINING_JOB,
    LABEL_GENERATION,
    PLURAL_GPU_CLASSES,
    PLURAL_TENANTS,
    PLURAL_TRAINING_JOBS,
    VERSION,
)
from fairshare.control.actions import Action, DeletePods, EnsureChildren, PatchStatus, RecordEvent, action_key
from fairshare.control.conditions import rfc3339
from fairshare.control.store import GPU_CLASSES, TENANTS, TRAINING_JOBS, Store
from fairshare.k8s.client import read_json
from fairshare.metrics import OperatorMetrics

log = logging.getLogger(__name__)

PLURALS = {TRAINING_JOBS: PLURAL_TRAINING_JOBS, TENANTS: PLURAL_TENANTS, GPU_CLASSES: PLURAL_GPU_CLASSES}
KINDS = {TRAINING_JOBS: KIND_TRAINING_JOB, TENANTS: KIND_TENANT, GPU_CLASSES: KIND_GPU_CLASS}
EVENT_BACKLOG = 2000  # Events waiting to be sent beyond this are dropped (and counted): they never hold back a cycle


@dataclasses.dataclass
class ApplySummary:
    """How a batch of actions went: applied, skipped after an earlier failure on the same object, conflicts."""

    applied: int = 0
    skipped: int = 0
    conflicts: int = 0
    errors: int = 0
    deferred: int = 0  # actions not started because the batch was told to stop: the next cycle plans them afresh


class Applier:
    """Executes actions with the Kubernetes client and records each patched object in the store at once."""

    def __init__(self, api: client.ApiClient, store: Store, metrics: OperatorMetrics, parallelism: int = 16) -> None:
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.store = store
        self.metrics = metrics
        self._own_writes: dict[str, tuple[str, str]] = {}
        self.parallelism = parallelism
        # Events go out in the background: a cycle waits for the writes that change state, not for its Events.
        self._events = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="events")
        self._events_backlog = 0
        self._events_lock = threading.Lock()
        self._deferred: set[str] = set()  # objects whose actions a stopped batch did not start

    def apply(self, actions: Iterable[Action], stop: threading.Event | None = None) -> ApplySummary:
        """Each object's actions in order; different objects concurrently (the API server serves them in parallel).
        Once `stop` is set, no further object is started (those already started finish their actions): the rest are
        counted as deferred, and the objects deferred last time go first in the next batch that has them."""
        by_object: dict[str, list[Action]] = {}
        for action in actions:
            by_object.setdefault(action_key(action), []).append(action)
        if self._deferred:
            by_object = dict(sorted(by_object.items(), key=lambda item: item[0] not in self._deferred))
        # Our own earlier write in this batch is not a conflicting one: a later action planned from the same
        # snapshot carries the old resourceVersion, so it is moved on to the version our write produced.
        self._own_writes = {}
        summary = ApplySummary()
        if not by_object:
            return summary
        deferred: set[str] = set()
        with concurrent.futures.ThreadPoolExecutor(min(self.parallelism, len(by_object))) as pool:
            for key, part in zip(by_object, pool.map(functools.partial(self._apply_in_order, stop=stop),
                                                     by_object.values()), strict=True):
                summary.applied += part.applied
                summary.skipped += part.skipped
                summary.conflicts += part.conflicts
                summary.errors += part.errors
                summary.deferred += part.deferred
                if part.deferred:
                    deferred.add(key)
        if stop is not None:
            self._deferred = deferred
        return summary

    def _apply_in_order(self, actions: list[Action], stop: threading.Event | None = None) -> ApplySummary:
        """One object's actions, stopping at the first failure (later ones were planned assuming it succeeded); none
        of them once `stop` is set."""
        summary = ApplySummary()
        if stop is not None and stop.is_set():
            summary.deferred = len(actions)
            return summary
        for index, action in enumerate(actions):
            key = action_key(action)
            if isinstance(action, RecordEvent):  # reached only if the object's earlier actions succeeded
                self._send_event_later(action)
                summary.applied += 1
                continue
            try:
                self._apply(action)
                summary.applied += 1
            except ApiException as exc:
                summary.skipped += len(actions) - index - 1
                if exc.status == 409:
                    summary.conflicts += 1  # someone wrote the object since the snapshot: the next cycle decides
                    log.info("conflict on %s %s; retrying next cycle", type(action).__name__, key)
                elif exc.status == 404:
                    summary.skipped += 1
                else:
                    summary.errors += 1
                    self.metrics.errors.labels(operation=type(action).__name__).inc()
                    log.warning("%s on %s failed: %s %s", type(action).__name__, key, exc.status, exc.reason)
                return summary
        return summary

    def _send_event_later(self, action: RecordEvent) -> None:
        with self._events_lock:
            if self._events_backlog >= EVENT_BACKLOG:
                self.metrics.errors.labels(operation="event-dropped").inc()
                return
            self._events_backlog += 1
        self._events.submit(self._send_event, action)

    def _send_event(self, action: RecordEvent) -> None:
        try:
            self._record_event(action)
        except ApiException as exc:  # best effort: a lost Event must not hold back scheduling
            log.info("event %s on %s not recorded: %s", action.reason, action.job_key, exc.reason)
        except Exception:
            log.exception("event %s on %s not recorded", action.reason, action.job_key)
        finally:
            with self._events_lock:
                self._events_backlog -= 1

    def _timed(self, verb: str, resource: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.metrics.api_latency.labels(verb=verb, resource=resource).observe(time.perf_counter() - start)

    def _create(self, resource: str, create: Any, namespace: str, body: dict[str, Any]) -> None:
        """Create an object whose response is not needed (its watch event brings it to the store)."""
        unread(self._timed("create", resource, create, namespace, body, _preload_content=False))

    def _apply(self, action: Action) -> None:
        if isinstance(action, PatchStatus):
            self._patch_status(action)
        elif isinstance(action, EnsureChildren):
            self._ensure_children(action)
        elif isinstance(action, DeletePods):
            namespace = action.job_key.split("/", 1)[0]
            at_once = {"grace_period_seconds": 0} if action.force else {}
            for name in action.names:
                try:
                    unread(self._timed("delete", "pods", self.core.delete_namespaced_pod, name, namespace,
                                       _preload_content=False, **at_once))
                except ApiException as exc:
                    if exc.status != 404:
                        raise

    def _patch_status(self, action: PatchStatus) -> None:
        body: dict[str, Any] = {"status": action.status}
        expected = action.resource_version
        own = self._own_writes.get(action.key)
        if expected and own and own[0] == expected:
            expected = own[1]
        if expected:
            body["metadata"] = {"resourceVersion": expected}  # makes the write conditional
        plural = PLURALS[action.kind]
        if action.kind == TRAINING_JOBS:
            namespace, name = action.key.split("/", 1)
            updated = read_json(self._timed("patch", plural, self.custom.patch_namespaced_custom_object_status,
                                            GROUP, VERSION, namespace, plural, name, body, _preload_content=False))
        else:
            updated = read_json(self._timed("patch", plural, self.custom.patch_cluster_custom_object_status,
                                            GROUP, VERSION, plural, action.key, body, _preload_content=False))
        before = (self.store.get(action.kind, action.key) or {}).get("metadata", {}).get("resourceVersion")
        if action.resource_version:
            before = action.resource_version
        if before:
            self._own_writes[action.key] = (before, updated["metadata"]["resourceVersion"])
        self.store.put(action.kind, updated)

    def _ensure_children(self, action: EnsureChildren) -> None:
        namespace = action.job_key.split("/", 1)[0]
        generation = str(((action.pods[0]["metadata"].get("labels") or {}) if action.pods else {})
                         .get(LABEL_GENERATION, "0"))
        service = [(self.core.create_namespaced_service, "services", action.service)] if action.service else []
        for create, resource, body in service + [(self.core.create_namespaced_pod, "pods", pod) for pod in action.pods]:
            try:
                self._create(resource, create, namespace, body)
            except ApiException as exc:
                if exc.status == 409:  # already there: creation is create-if-absent by deterministic name
                    if resource == "services" and action.pods:
                        self._check_service_owner(action.job_key, generation, body)
                    continue
                refusal = refused_for_good(exc)
                if refusal is not None and action.pods:
                    # The lifecycle fails the job next cycle with these words (control/lifecycle.rule_rejected).
                    name = body["metadata"].get("name")
                    self.store.rejected[action.job_key] = (generation, resource, f"{resource} {name}: {refusal}")
                raise
        self.store.rejected.pop(action.job_key, None)

    def _check_service_owner(self, job_key: str, generation: str, wanted: dict[str, Any]) -> None:
        """The Service already there under the job's Service name: the job's own (created earlier), or one an earlier
        job of the same name still owns until the garbage collector deletes it (retried next cycle, pods not yet
        created); any other holds the name for good, and the lifecycle fails the job (rule_rejected) before its
        workers start without a way to find each other."""
        name, namespace = wanted["metadata"]["name"], wanted["metadata"]["namespace"]
        found = read_json(self._timed("get", "services", self.core.read_namespaced_service, name, namespace,
                                      _preload_content=False))
        owner = service_owner(found, wanted)
        if owner == OWN:
            return
        if owner == EARLIER_JOB:
            raise ServiceNotYetFree(f"services {namespace}/{name}: still owned by an earlier TrainingJob {name}")
        self.store.rejected[job_key] = (generation, "services", f"{namespace}/{name}, which a Service the operator "
                                        f"did not create already holds (it has no controller reference to this job)")
        raise ServiceNotYetFree(f"services {namespace}/{name}: held by a Service the operator did not create")

    def _record_event(self, action: RecordEvent) -> None:
        body = self.store.get(action.kind, action.job_key)
        if body is None:
            return
        namespace, _, name = action.job_key.rpartition("/")
        now = rfc3339(time.time())
        involved = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KINDS[action.kind], "name": name,
                    "uid": body["metadata"].get("uid"), "resourceVersion": body["metadata"].get("resourceVersion")}
        if namespace:
            involved["namespace"] = namespace
        event = {
            # Events about a cluster-scoped object (a Tenant, a GPUClass) live in "default", as kubectl looks for them.
            "metadata": {"generateName": f"{name}.", "namespace": namespace or "default"},
            "involvedObject": involved,
            "reason": action.reason, "message": action.message[:1024], "type": action.type,
            "source": {"component": "fairshare-operator"}, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        self._create("events", self.core.create_namespaced_event, namespace or "default", event)


def unread(response: Any) -> None:
    """Finish with a response whose body is not needed: a typed model (a deleted pod's V1Pod: about 7 ms of CPU
    each, holding the GIL) is never built, and the body is still read to the end, so the connection goes back to
    the pool rather than a new TLS connection being opened for the next write."""
    if response is not None:
        response.drain_conn()
        response.release_conn()


OWN, EARLIER_JOB, FOREIGN = "own", "earlier-job", "foreign"


class ServiceNotYetFree(ApiException):
    """The job's Service name is held by another Service: its pods are not created this cycle (a conflict: the next
    cycle decides)."""

    def __init__(self, reason: str) -> None:
        super().__init__(status=409, reason=reason)


def service_owner(found: dict[str, Any], wanted: dict[str, Any]) -> str:
    """Who controls the Service `found` under the name the job's Service `wanted` needs: this job (OWN: the same
    controller uid), an earlier TrainingJob of the same name that the garbage collector has yet to clean up after
    (EARLIER_JOB), or anybody else (FOREIGN)."""
    mine = next(iter(wanted["metadata"].get("ownerReferences") or []), {})
    refs = (found.get("metadata") or {}).get("ownerReferences")
    controller = next((r for r in refs if isinstance(r, dict) and r.get("controller")), None) \
        if isinstance(refs, list) else None
    if controller is None:
        return FOREIGN
    if controller.get("uid") == mine.get("uid"):
        return OWN
    if (controller.get("kind"), controller.get("apiVersion"), controller.get("name")) == \
            (mine.get("kind"), mine.get("apiVersion"), mine.get("name")):
        return EARLIER_JOB
    return FOREIGN


def refused_for_good(exc: ApiException) -> str | None:
    """The API server's message when it refused a create for a reason that retrying cannot change (the object is
    invalid or too large, or admission denies it); None for a refusal that may pass later (a quota that frees up, a
    namespace being deleted, a timeout, an overloaded or restarting API server)."""
    if exc.status not in (400, 403, 422):
        return None
    try:
        message = str(json.loads(exc.body or "{}").get("message") or exc.reason or "")
    except (TypeError, ValueError):
        message = str(exc.body or exc.reason or "")
    if exc.status == 403 and ("exceeded quota" in message or "is being terminated" in message):
        return None
    return message[:2048] or f"{exc.status} {exc.reason}"
