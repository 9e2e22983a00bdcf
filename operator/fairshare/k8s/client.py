"""Kubernetes API clients from a kubeconfig (local cluster, developer) or the pod's service account (in cluster), every
call bounded by a connect and a read timeout."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from kubernetes import client, config

# Connections kept open to the API server: the applier writes from 16 threads and sends Events from 4 more, the
# lister and the feedback reader add a few. With the client's default of 10, every write beyond that opened a new
# TLS connection and threw it away ("Connection pool is full, discarding connection": 1,026 times in the first
# minutes of the 5,000-job soak), costing a handshake of CPU per write on both sides.
CONNECTION_POOL_SIZE = 32


@dataclasses.dataclass(frozen=True)
class ApiTimeouts:
    """How long one API call may wait, in seconds: for the TCP connection (and TLS handshake), and for each read of
    the answer (the longest silence between bytes, not the whole call). Without them a call on a half-open
    connection waits until the kernel gives up on it: about 15 minutes, or for ever on an idle socket."""

    connect_seconds: float = 5.0
    read_seconds: float = 30.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"{field.name} must be > 0 s, got {getattr(self, field.name)!r}")

    @property
    def request_timeout(self) -> tuple[float, float]:
        """As the client's `_request_timeout` takes it: a (connect, read) pair."""
        return (self.connect_seconds, self.read_seconds)


def request_timeout(value: Any, default: tuple[float, float]) -> Any:
    """`value` as the client's REST layer honours it. It takes an int (a total) or a (connect, read) pair and silently
    ignores anything else: a float such as 2.0 meant no timeout at all. None or 0 gives `default`."""
    if not value:
        return default
    if isinstance(value, float):
        return (value, value)
    return value


class BoundedApiClient(client.ApiClient):
    """An ApiClient whose every request is bounded: `timeouts` unless the call passes its own `_request_timeout`."""

    def __init__(self, configuration: client.Configuration, timeouts: ApiTimeouts) -> None:
        super().__init__(configuration)
        self.timeouts = timeouts

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["_request_timeout"] = request_timeout(kwargs.get("_request_timeout"), self.timeouts.request_timeout)
        return super().request(method, url, *args, **kwargs)


def api_client(kubeconfig: str | None = None, timeouts: ApiTimeouts | None = None) -> BoundedApiClient:
    """An ApiClient for `kubeconfig`, $KUBECONFIG, or the in-cluster service account, in that order, each call bounded
    by `timeouts` (default: ApiTimeouts())."""
    configuration = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        config.load_kube_config(config_file=path, client_configuration=configuration)
    else:
        config.load_incluster_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = CONNECTION_POOL_SIZE
    return BoundedApiClient(configuration, timeouts or ApiTimeouts())


def read_json(response: Any) -> dict[str, Any]:
    """The JSON body of a response asked for with `_preload_content=False`, as a dict (no typed model is built: a
    V1Pod costs milliseconds of CPU holding the GIL), its connection back in the pool."""
    try:
        return dict(json.loads(response.data))
    finally:
        response.release_conn()
