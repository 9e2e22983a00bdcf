"""The Lease through the official client (its body and MicroTimes), and the write gate on a real ApiClient: writes
refused before they reach the wire, reads let through, writes in flight counted."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from kubernetes import client

from fairshare.control.actions import EnsureChildren, PatchStatus
from fairshare.control.store import TRAINING_JOBS, Store
from fairshare.k8s.applier import Applier
from fairshare.k8s.election import ElectionSettings, LeaseRecord
from fairshare.k8s.lease import KubeLease, NotLeader, WriteGate, micro_time
from fairshare.metrics import OperatorMetrics
from tests.unit.control.builders import training_job


@pytest.mark.parametrize(("unix", "text"), [
    pytest.param(1_700_000_000.0, "2023-11-14T22:13:20.000000Z", id="whole second: still six digits"),
    pytest.param(1_700_000_000.123456, "2023-11-14T22:13:20.123456Z", id="microseconds"),
    pytest.param(None, None, id="unset"),
])
def test_micro_time_is_what_the_api_server_parses(unix: float | None, text: str | None) -> None:
    assert micro_time(unix) == text


def test_a_record_round_trips_through_the_lease_body() -> None:
    lease = KubeLease(client.ApiClient(), ElectionSettings(namespace="fairshare-system", identity="pod-0"))
    record = LeaseRecord("pod-0", 15, 1_700_000_000.5, 1_700_000_010.25, 3, "42")
    body = lease._body(record)
    assert body["metadata"] == {"name": "fairshare-operator", "namespace": "fairshare-system",
                                "resourceVersion": "42"}
    assert body["spec"] == {"holderIdentity": "pod-0", "leaseDurationSeconds": 15,
                            "acquireTime": "2023-11-14T22:13:20.500000Z", "renewTime": "2023-11-14T22:13:30.250000Z",
                            "leaseTransitions": 3}
    typed = client.V1Lease(metadata=client.V1ObjectMeta(name="fairshare-operator", resource_version="42"),
                           spec=client.V1LeaseSpec(holder_identity="pod-0", lease_duration_seconds=15,
                                                   acquire_time=datetime.fromtimestamp(1_700_000_000.5, UTC),
                                                   renew_time=datetime.fromtimestamp(1_700_000_010.25, UTC),
                                                   lease_transitions=3))
    assert lease._record(typed) == record
    released = lease._body(LeaseRecord("", 1, 1.0, 1.0, 3, "43"))
    assert released["spec"]["holderIdentity"] is None, "no holder: a follower takes it at its next attempt"


class Wire:
    """A real HTTP server on loopback standing in for the API server: records each request that reached it and
    answers `{}` (after `release` is set, so a test can hold answers back)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = threading.Event()
        self.release.set()
        wire = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                wire.sent.append(f"{self.command} {self.path.split('/api')[-1]}")
                wire.release.wait(5)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def wire() -> Iterator[Wire]:
    w = Wire()
    yield w
    w.server.shutdown()
    w.server.server_close()


def gated(wire: Wire, allowed: Callable[[], bool]) -> tuple[client.ApiClient, WriteGate, list[str]]:
    api = client.ApiClient(client.Configuration(host=wire.url))
    results: list[str] = []
    gate = WriteGate(allowed, results.append)
    gate.install(api)
    return api, gate, results


@pytest.mark.parametrize(("method", "leading", "sent"), [
    pytest.param("GET", False, True, id="a follower reads"),
    pytest.param("POST", True, True, id="the leader creates"),
    pytest.param("POST", False, False, id="a follower's create is refused"),
    pytest.param("PATCH", False, False, id="a follower's status patch is refused"),
    pytest.param("DELETE", False, False, id="a follower's delete is refused"),
    pytest.param("PUT", False, False, id="a follower's replace is refused"),
])
def test_the_gate_lets_reads_through_and_writes_only_while_leading(
        wire: Wire, method: str, leading: bool, sent: bool) -> None:
    api, _, results = gated(wire, lambda: leading)
    call = lambda: api.request(method, f"{wire.url}/api/v1/namespaces/a/pods", body={})  # noqa: E731
    if sent:
        call()
    else:
        with pytest.raises(NotLeader, match=f"not the leader: {method}"):
            call()
    assert wire.sent == ([f"{method} /v1/namespaces/a/pods"] if sent else [])
    assert results == ([] if method == "GET" else ["sent" if sent else "refused"])


@pytest.mark.parametrize("opened_before", [
    pytest.param(False, id="on a new connection"),
    pytest.param(True, id="on a pooled connection"),
])
def test_a_write_whose_gate_shut_after_the_first_check_is_stopped_at_the_connection(
        wire: Wire, opened_before: bool) -> None:
    """A leader frozen between asking the client for a write and the connection sending it (waiting for a
    connection, in a handshake) thaws with its gate shut: the connection's own check refuses the write, and nothing
    reaches the server."""
    answers = [True] * (2 if opened_before else 0) + [True, False]
    api, _, results = gated(wire, lambda: answers.pop(0))
    if opened_before:
        api.request("POST", f"{wire.url}/api/v1/namespaces/a/events", body={})
    with pytest.raises(NotLeader, match="not the leader: POST"):
        api.request("POST", f"{wire.url}/api/v1/namespaces/a/pods", body={})
    assert wire.sent == (["POST /v1/namespaces/a/events"] if opened_before else [])
    assert results == (["sent"] if opened_before else []) + ["refused"]
    api.request("GET", f"{wire.url}/api/v1/namespaces/a/pods")
    assert wire.sent[-1] == "GET /v1/namespaces/a/pods", "the refused write left the pool usable"


def test_an_applier_behind_a_shut_gate_sends_nothing_and_skips_the_rest_of_the_objects_actions(wire: Wire) -> None:
    """An admission planned before the term ended: its status write is refused before it reaches the wire, and its
    pods are not created (they come after the refused write on the same object)."""
    api, _, results = gated(wire, lambda: False)
    store = Store()
    store.put(TRAINING_JOBS, training_job("nlp/bert").gpus(8).body())
    metrics = OperatorMetrics()
    pod = {"metadata": {"name": "bert-worker-0"}, "spec": {}}
    summary = Applier(api, store, metrics).apply((
        PatchStatus(TRAINING_JOBS, "nlp/bert", {"phase": "Admitted"}, "1"),
        EnsureChildren("nlp/bert", None, (pod,))))
    assert wire.sent == []
    assert (summary.applied, summary.errors, summary.skipped) == (0, 1, 1)
    assert results == ["refused"]


def test_a_resigning_leader_waits_for_writes_already_sent(wire: Wire) -> None:
    api, gate, _ = gated(wire, lambda: True)
    wire.release.clear()  # the API server is slow to answer
    writer = threading.Thread(target=api.request, args=("PATCH", f"{wire.url}/api/v1/x"))
    writer.start()
    assert not gate.wait_idle(0.2), "a write is in flight"
    wire.release.set()
    assert gate.wait_idle(5)
    writer.join(5)
    assert wire.sent == ["PATCH /v1/x"]
