"""Kubernetes API clients from a kubeconfig (local cluster, developer) or the pod's service account (in cluster)."""

from __future__ import annotations

import os

from kubernetes import client, config

# Connections kept open to the API server: the applier writes from 16 threads and sends Events from 4 more, the
# lister and the feedback reader add a few. With the client's default of 10, every write beyond that opened a new
# TLS connection and threw it away ("Connection pool is full, discarding connection": 1,026 times in the first
# minutes of the 5,000-job soak), costing a handshake of CPU per write on both sides.
CONNECTION_POOL_SIZE = 32


def api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """An ApiClient for `kubeconfig`, $KUBECONFIG, or the in-cluster service account, in that order."""
    configuration = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        config.load_kube_config(config_file=path, client_configuration=configuration)
    else:
        config.load_incluster_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = CONNECTION_POOL_SIZE
    return client.ApiClient(configuration)
