"""Small Kubernetes reads for tests: an object or None, and whether it is gone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException


def read_pod(core: client.CoreV1Api, name: str, namespace: str) -> client.V1Pod | None:
    """The pod, or None when it does not exist."""
    try:
        return core.read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def gone(read: Callable[[], Any]) -> bool:
    """True when `read` answers 404."""
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False
