"""Every API call is bounded: the client's default connect and read timeouts, the Lease's own, and both still
bounded through the leader's write gate, each tried against a real loopback socket that accepts and never answers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client

from fairshare.k8s.client import ApiTimeouts, BoundedApiClient, request_timeout
from fairshare.k8s.election import ElectionSettings
from fairshare.k8s.lease import KubeLease, WriteGate
from tests.support.relay import Relay

# Generous: a call bounded at 0.3 s read (urllib3 retries a GET's read up to 3 times) returns well within it; an
# unbounded one never returns.
GIVE_UP_SECONDS = 30.0


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that accepts every connection, holds it open and never answers: a half-open apiserver."""
    relay = Relay(("127.0.0.1", 9)).start()
    relay.black_hole()
    yield f"http://127.0.0.1:{relay.port}"
    relay.close()


def outcome(call: Callable[[], Any], give_up: float = GIVE_UP_SECONDS) -> BaseException | str:
    """What `call` ended with, run in a thread given `give_up` seconds: its exception, "returned", or "hung"."""
    ended: list[BaseException | str] = []

    def run() -> None:
        try:
            call()
            ended.append("returned")
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            ended.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(give_up)
    return ended[0] if ended else "hung"


def read_timed_out(result: BaseException | str) -> bool:
    text = repr(result) + repr(getattr(result, "reason", ""))
    return isinstance(result, urllib3.exceptions.HTTPError) and "timed out" in text.lower()


@pytest.mark.parametrize(("given", "want"), [
    pytest.param(None, (5.0, 30.0), id="none: the default pair"),
    pytest.param(0, (5.0, 30.0), id="zero: the default pair"),
    pytest.param(2.0, (2.0, 2.0), id="a float, which the client would drop, becomes a pair"),
    pytest.param(3, 3, id="an int (a total) is kept"),
    pytest.param((1.0, 4.0), (1.0, 4.0), id="a pair is kept"),
])
def test_request_timeout_is_always_one_the_rest_layer_honours(given: Any, want: Any) -> None:
    assert request_timeout(given, ApiTimeouts().request_timeout) == want


@pytest.mark.parametrize("values", [
    pytest.param({"connect_seconds": 0}, id="connect 0"),
    pytest.param({"read_seconds": -1.0}, id="read negative"),
])
def test_timeouts_must_be_positive(values: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(values))):
        ApiTimeouts(**values)


def bounded(url: str, read: float = 0.3) -> BoundedApiClient:
    return BoundedApiClient(client.Configuration(host=url), ApiTimeouts(connect_seconds=0.3, read_seconds=read))


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_a_call_on_a_silent_connection_times_out(silent: str, method: str) -> None:
    api = bounded(silent)
    result = outcome(lambda: api.request(method, f"{silent}/api/v1/namespaces/a/pods", body={}))
    assert read_timed_out(result), result


def test_the_client_as_it_stood_hangs_there(silent: str) -> None:
    """The control: the same call without a timeout is still waiting when the test gives up (daemon thread)."""
    api = client.ApiClient(client.Configuration(host=silent))
    assert outcome(lambda: api.request("GET", f"{silent}/api/v1/namespaces"), give_up=2.0) == "hung"


def test_a_lease_read_times_out_even_on_an_unbounded_client(silent: str) -> None:
    """The Lease passes its own timeout (the retry period), as a pair: as a bare float the client ignored it."""
    lease = KubeLease(client.ApiClient(client.Configuration(host=silent)), ElectionSettings(retry_period_seconds=0.4,
                                                                                            renew_deadline_seconds=1,
                                                                                            lease_duration_seconds=2))
    assert lease.timeout == (1.0, 1.0)
    assert read_timed_out(outcome(lease.get))


def test_a_gated_write_is_bounded_and_counted_as_sent(silent: str) -> None:
    """The write gate wraps the bounded client's request and its connections: both still apply."""
    sent: list[str] = []
    api = WriteGate(lambda: True, sent.append).install(bounded(silent))
    result = outcome(lambda: api.request("PATCH", f"{silent}/api/v1/namespaces/a/pods/p", body={}))
    assert read_timed_out(result), result
    assert sent == ["sent"]


@pytest.fixture
def silent_relay() -> Iterator[Relay]:
    relay = Relay(("127.0.0.1", 9)).start()
    relay.black_hole()
    yield relay
    relay.close()


def _settings() -> ElectionSettings:
    return ElectionSettings(retry_period_seconds=0.4, renew_deadline_seconds=1, lease_duration_seconds=2)


def test_a_lease_call_is_one_attempt_no_hidden_retries(silent_relay: Relay) -> None:
    """A Lease GET that times out is not retried inside the call (urllib3's default retried it 3 times, each on a new
    connection: a 2 s read took up to 8 s, past the renew deadline): one connection, one timeout."""
    url = f"http://127.0.0.1:{silent_relay.port}"
    lease = KubeLease(client.ApiClient(client.Configuration(host=url)), _settings(), timeout=0.3)
    assert read_timed_out(outcome(lease.get))
    assert silent_relay.accepted == 1


def test_the_default_client_retries_a_timed_out_get_which_is_why_the_lease_opts_out(silent_relay: Relay) -> None:
    """The control: the client as the operator builds it for its other calls retries the same GET 3 times."""
    url = f"http://127.0.0.1:{silent_relay.port}"
    assert read_timed_out(outcome(lambda: bounded(url).request("GET", f"{url}/apis/coordination.k8s.io/v1")))
    assert silent_relay.accepted == 4


def test_the_lease_clients_pools_have_no_retries() -> None:
    api = client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))
    KubeLease(api, _settings())
    pool = api.rest_client.pool_manager.connection_from_url("http://127.0.0.1:9")
    assert (pool.retries.total, api.configuration.retries.total) == (0, 0)
