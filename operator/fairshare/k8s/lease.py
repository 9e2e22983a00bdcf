"""The election's Lease through the official client (CoordinationV1Api), and the gate on an ApiClient's writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.connectionpool import HTTPConnectionPool

from fairshare.k8s.election import ElectionSettings, LeaseConflict, LeaseRecord

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# No retry of any kind: urllib3's default (3) retried a Lease GET that timed out, on a new connection each time, so
# one read bounded at 2 s took up to 8 s, past the renew deadline it was meant to keep.
NO_RETRIES = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0, raise_on_redirect=False)


def micro_time(unix: float | None) -> str | None:
    """A Lease's MicroTime as the API server parses it: RFC 3339 with exactly six fractional digits."""
    if unix is None:
        return None
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unix(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


class KubeLease:
    """One Lease (namespace/name) read and written with CoordinationV1Api; every call is bounded by `timeout`
    seconds (connect and read), so an attempt never outlasts the retry period by much.

    The timeout goes to the client as a (connect, read) pair: its REST layer takes an int or a pair and silently
    drops anything else, so the float it was once given (2.0) left every Lease call unbounded. And each call is one
    attempt (`without_retries`): a failed one is retried by the elector at its next retry period, never hidden
    inside the call, so one attempt lasts at most connect + read."""

    def __init__(self, api: client.ApiClient, settings: ElectionSettings, timeout: float | None = None) -> None:
        self.coordination = client.CoordinationV1Api(without_retries(api))
        self.namespace, self.name = settings.namespace, settings.name
        seconds = float(timeout if timeout is not None else max(1.0, settings.retry_period_seconds))
        self.timeout: tuple[float, float] = (seconds, seconds)

    def _record(self, lease: client.V1Lease) -> LeaseRecord:
        spec = lease.spec or client.V1LeaseSpec()
        return LeaseRecord(spec.holder_identity or "", int(spec.lease_duration_seconds or 0),
                           _unix(spec.acquire_time), _unix(spec.renew_time), int(spec.lease_transitions or 0),
                           lease.metadata.resource_version or "")

    def _body(self, record: LeaseRecord) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if record.resource_version:
            metadata["resourceVersion"] = record.resource_version  # makes the replace conditional
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": {
            "holderIdentity": record.holder or None, "leaseDurationSeconds": record.lease_duration_seconds,
            "acquireTime": micro_time(record.acquired_at), "renewTime": micro_time(record.renewed_at),
            "leaseTransitions": record.transitions}}

    def get(self) -> LeaseRecord | None:
        try:
            return self._record(self.coordination.read_namespaced_lease(self.name, self.namespace,
                                                                        _request_timeout=self.timeout))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, record: LeaseRecord) -> LeaseRecord:
        try:
            return self._record(self.coordination.create_namespaced_lease(self.namespace, self._body(record),
                                                                          _request_timeout=self.timeout))
        except ApiException as exc:
            if exc.status == 409:
                raise LeaseConflict(str(exc.reason)) from None
            raise

    def update(self, record: LeaseRecord) -> LeaseRecord:
        try:
            return self._record(self.coordination.replace_namespaced_lease(
                self.name, self.namespace, self._body(record), _request_timeout=self.timeout))
        except ApiException as exc:
            if exc.status in (404, 409):
                raise LeaseConflict(str(exc.reason)) from None
            raise


def without_retries(api: client.ApiClient) -> client.ApiClient:
    """Make every request `api` sends one attempt (NO_RETRIES): the pools it opens from now on get no retries, and
    those already open are dropped. The client is the Lease's own (the operator gives it one), so no other caller
    loses its retries."""
    api.configuration.retries = NO_RETRIES
    pools = api.rest_client.pool_manager
    pools.connection_pool_kw["retries"] = NO_RETRIES
    pools.clear()
    return api


class NotLeader(ApiException):
    """A write refused before it was sent: this replica is not (or no longer) the leader. An ApiException, so the
    applier treats it as a failed write: the object's later actions this cycle are skipped."""

    def __init__(self, method: str, url: str) -> None:
        super().__init__(status=0, reason=f"not the leader: {method} {url.split('?')[0]} withdrawn")


class WriteGate:
    """Shuts an ApiClient's writes (POST, PUT, PATCH, DELETE) when `allowed()` turns false; reads always pass.

    A write is checked twice: when the client is asked for it (refused at once, before it is serialised) and again
    by the HTTP connection right before it hands the request's first bytes to the socket, after the pool has handed
    out a connection, any TLS handshake is done and the request is serialised. So a process frozen anywhere before
    that last check (waiting for a connection, in a handshake, or for the GIL) finds the gate shut when it thaws;
    only a freeze in the few bytecodes between the last check and the socket write can still send. Counts each
    write once, as sent or refused, and the writes in flight, so a leader that resigns can wait for them before it
    hands the Lease over."""

    def __init__(self, allowed: Callable[[], bool], on_write: Callable[[str], None] | None = None) -> None:
        self.allowed, self.on_write = allowed, on_write
        self._in_flight = 0
        self._idle = threading.Condition()

    def _count(self, result: str) -> None:
        if self.on_write:
            self.on_write(result)

    def check(self, method: str, url: str) -> None:
        """Raise NotLeader (counted as refused) for a write while the gate is shut."""
        if method.upper() in WRITE_METHODS and not self.allowed():
            self._count("refused")
            raise NotLeader(method, url)

    def install(self, api: client.ApiClient) -> client.ApiClient:
        """Gate `api`: its request method (the first check) and its connections (the last one)."""
        _gate_connections(api.rest_client.pool_manager, self)
        send = api.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if method.upper() not in WRITE_METHODS:
                return send(method, url, *args, **kwargs)
            self.check(method, url)
            with self._idle:
                self._in_flight += 1
            try:
                return send(method, url, *args, **kwargs)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        api.request = request
        return api

    def wait_idle(self, timeout: float) -> bool:
        """Wait (at most `timeout` s) until no write that passed the gate is still waiting for its answer."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


def _gate_connections(pools: urllib3.PoolManager, gate: WriteGate) -> None:
    """Make every connection `pools` opens from now on check `gate` right before it writes a request's first bytes
    to its socket (pools already open are dropped, so none bypasses it)."""

    def gated_pool(pool_class: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
        connection_class = pool_class.ConnectionCls

        class GatedConnection(connection_class):  # type: ignore[valid-type,misc]
            _unchecked: tuple[str, str] | None = None  # a write whose first byte has not been sent yet

            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:
                self._unchecked = (method, url) if method.upper() in WRITE_METHODS else None
                try:
                    super().request(method, url, *args, **kwargs)
                finally:
                    self._unchecked = None

            def send(self, data: Any) -> None:
                if self._unchecked is not None:  # the request line and headers, about to go out: the last check
                    (method, url), self._unchecked = self._unchecked, None
                    gate.check(method, url)
                    gate._count("sent")
                super().send(data)

        return type(f"Gated{pool_class.__name__}", (pool_class,), {"ConnectionCls": GatedConnection})

    pools.pool_classes_by_scheme = {scheme: gated_pool(pool_class)
                                    for scheme, pool_class in pools.pool_classes_by_scheme.items()}
    pools.clear()
