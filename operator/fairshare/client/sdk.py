"""FairshareClient: submit, read, wait for, explain, delete TrainingJobs and stream their logs, from Python.

    from fairshare.client import FairshareClient
    fs = FairshareClient()                       # ~/.kube/config or $KUBECONFIG, its current context and namespace
    fs.submit({"metadata": {"name": "bert"}, "spec": {...}})
    job = fs.wait("bert", phases={"Running"}, timeout=600)
    for line in fs.logs("bert", follow=True): print(line)

Objects are returned as the plain dicts the API serves (camelCase, as in YAML); `fairshare.api.parse_training_job`
turns one into the typed model.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from fairshare.client import paths
from fairshare.client.errors import ApiError, ClientError, Forbidden, NotFound
from fairshare.client.explanation import explain_text
from fairshare.client.kubeconfig import Connection, load
from fairshare.client.transport import Transport

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
LIST_PAGE_SIZE = 500
WATCH_WINDOW_SECONDS = 300  # a watch is re-opened at least this often, so a wait survives a silent connection


class InvalidJob(ClientError):
    """A job the API would refuse; `field_path` names the field (as in YAML) and the message says the fix."""

    def __init__(self, field_path: str, message: str) -> None:
        self.field_path = field_path
        super().__init__(f"{field_path}: {message}")


class FairshareClient:
    """The fairshare API as one user sees it, through a kubeconfig context (or the pod's service account)."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
                 timeout: float = 60.0, connection: Connection | None = None) -> None:
        self.connection = connection or load(kubeconfig, context, namespace)
        self.namespace = self.connection.namespace
        self.api = Transport(self.connection, timeout)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> FairshareClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ns(self, namespace: str | None) -> str:
        return namespace or self.namespace

    def submit(self, job: Mapping[str, Any] | Any, namespace: str | None = None) -> dict[str, Any]:
        """Create a TrainingJob from a dict (as in YAML) or a `fairshare.api.TrainingJob`; checked locally first,
        so a mistake is reported with its field before anything is sent. Returns the created object."""
        from fairshare.api import SpecError, parse_training_job

        body = dict(job.to_body() if hasattr(job, "to_body") else job)
        body.setdefault("apiVersion", paths.API_VERSION)
        body.setdefault("kind", paths.KIND_TRAINING_JOB)
        metadata = dict(body.get("metadata") or {})
        metadata["namespace"] = self._ns(namespace or metadata.get("namespace"))
        body["metadata"] = metadata
        try:
            parse_training_job(body)
        except SpecError as err:
            raise InvalidJob(err.field_path, str(err).removeprefix(f"{err.field_path}: ")) from None
        return dict(self.api.request("POST", paths.training_jobs(metadata["namespace"]), body=body))

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """One TrainingJob; NotFound (with the namespace and name in words) when there is none."""
        ns = self._ns(namespace)
        try:
            return dict(self.api.request("GET", paths.training_jobs(ns, name)))
        except NotFound as err:
            raise NotFound(404, err.reason, f"no TrainingJob {ns}/{name} (context {self.connection.context}); "
                                            f"`fairshare queue -n {ns}` lists the namespace's waiting jobs") from None

    def list(self, namespace: str | None = None, all_namespaces: bool = False,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        """TrainingJobs of a namespace (default: the context's) or of every namespace, fetched in pages."""
        path = paths.training_jobs(None if all_namespaces else self._ns(namespace))
        return self.api.list(path, {"labelSelector": label_selector}, limit=LIST_PAGE_SIZE)

    def wait(self, name: str, phases: Collection[str] = TERMINAL_PHASES, namespace: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Block until the job's phase is one of `phases` (default: Succeeded or Failed) and return the job; a
        ClientError when `timeout` seconds pass first or the job is deleted. Watches, so it costs no polling."""
        ns = self._ns(namespace)
        wanted = set(phases)

        def reached(job: Mapping[str, Any] | None) -> bool:
            if job is None:
                raise ClientError(f"TrainingJob {ns}/{name} was deleted while waiting for phase "
                                  f"{' or '.join(sorted(wanted))}")
            return (job.get("status") or {}).get("phase") in wanted

        return self._watch_until(name, ns, reached, timeout, f"phase {' or '.join(sorted(wanted))}")

    def delete(self, name: str, namespace: str | None = None, wait: bool = False,
               timeout: float | None = None) -> None:
        """Delete a job (its pods and Service go with it); with `wait`, return once it is gone."""
        ns = self._ns(namespace)
        try:
            self.api.request("DELETE", paths.training_jobs(ns, name), body={"propagationPolicy": "Background"})
        except NotFound:
            raise NotFound(404, "NotFound", f"no TrainingJob {ns}/{name} to delete") from None
        if wait:
            try:
                self._watch_until(name, ns, lambda job: job is None, timeout, "deletion")
            except NotFound:
                return

    def logs(self, name: str, namespace: str | None = None, worker: int = 0, follow: bool = False,
             tail_lines: int | None = None, container: str | None = None) -> Iterator[str]:
        """The log lines of one worker pod of the job (rank `worker`, default 0), following new ones if asked."""
        ns = self._ns(namespace)
        pod = paths.worker_pod_name(name, worker)
        query = {"follow": "true" if follow else None, "tailLines": tail_lines, "container": container}
        try:
            for line in self.api.stream(paths.pod_log(ns, pod), query, timeout=None if follow else 60.0):
                yield line.decode(errors="replace").rstrip("\n")
        except NotFound:
            raise NotFound(404, "NotFound", f"TrainingJob {ns}/{name} has no worker pod {pod}: pods exist only "
                                            "while the job is Admitted or Running (see `fairshare explain "
                                            f"{ns}/{name}`)") from None

    def explain_inputs(self, name: str, namespace: str | None = None) -> tuple[
            dict[str, Any], dict[str, Any] | None, builtins.list[dict[str, Any]]]:
        """The job, its tenant (None when this user may not read Tenants) and its Events, oldest first."""
        ns = self._ns(namespace)
        job = self.get(name, ns)
        tenant = None
        tenant_name = (job.get("status") or {}).get("tenant")
        if tenant_name:
            try:
                tenant = self.api.request("GET", paths.tenants(tenant_name))
            except (Forbidden, NotFound):  # explain what this user can read
                tenant = None
        try:
            events = self.api.list(paths.events(ns), {
                "fieldSelector": f"involvedObject.name={name},involvedObject.kind={paths.KIND_TRAINING_JOB}"})
        except Forbidden:
            events = []
        events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime")
                                      or (e.get("metadata") or {}).get("creationTimestamp") or ""))
        return job, tenant, events

    def explain(self, name: str, namespace: str | None = None) -> str:
        """Why the job waits, where it runs and what it costs, in words (what `fairshare explain` prints)."""
        job, tenant, events = self.explain_inputs(name, namespace)
        return explain_text(job, tenant, [{"reason": e.get("reason"), "message": e.get("message")} for e in events])

    def _watch_until(self, name: str, namespace: str, done: Any, timeout: float | None, what: str) -> dict[str, Any]:
        """Read the job, then watch it until `done(job)` (`done(None)` on deletion) holds; bounded by `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                job: dict[str, Any] | None = self.get(name, namespace)
            except NotFound:
                job = None
            if done(job):
                return job or {}
            assert job is not None
            left = WATCH_WINDOW_SECONDS if deadline is None else deadline - time.monotonic()
            if left <= 0:
                raise ClientError(f"timed out after {timeout:g} s waiting for {what} of TrainingJob {namespace}/"
                                  f"{name}; it is {(job.get('status') or {}).get('phase') or 'not yet seen'}")
            window = int(min(left, WATCH_WINDOW_SECONDS)) + 1
            query = {"watch": "true", "fieldSelector": f"metadata.name={name}",
                     "resourceVersion": job["metadata"]["resourceVersion"], "timeoutSeconds": window}
            try:
                for line in self.api.stream(paths.training_jobs(namespace), query, timeout=window + 10):
                    event = json.loads(line)
                    if event.get("type") == "ERROR":  # e.g. 410 Gone: the version is too old; read afresh
                        break
                    obj = None if event.get("type") == "DELETED" else event.get("object")
                    if done(obj):
                        return obj or {}
                    if deadline is not None and time.monotonic() >= deadline:
                        break
            except TimeoutError:
                continue  # a silent connection: read the job again and re-open the watch
            except ApiError as err:
                if err.status != 410:  # 410 Gone: the version read is too old to watch from; read afresh
                    raise
