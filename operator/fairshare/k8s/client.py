"""Kubernetes API clients from a kubeconfig (local cluster, developer) or the pod's service account (in cluster)."""

from __future__ import annotations

import os

from kubernetes import client, config


def api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """An ApiClient for `kubeconfig`, $KUBECONFIG, or the in-cluster service account, in that order."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return config.new_client_from_config(config_file=path)
    config.load_incluster_config()
    return client.ApiClient()
