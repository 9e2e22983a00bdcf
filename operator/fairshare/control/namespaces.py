"""System namespaces, which no Tenant owns: the operator never admits a job, nor launches a pod, in one of them."""

from __future__ import annotations

from collections.abc import Iterable

from fairshare.api.constants import SYSTEM_NAMESPACE_PREFIX

# Besides Kubernetes's kube-* (which the Tenant CRD refuses too); the chart's protectedNamespaces replaces this list
# and adds the operator's own namespace.
DEFAULT_PROTECTED_NAMESPACES = frozenset({"default"})


def is_system_namespace(namespace: str, protected: Iterable[str] = DEFAULT_PROTECTED_NAMESPACES) -> bool:
    """Rule: Kubernetes's own namespaces (the kube- prefix) and the protected ones (default, the operator's own, the
    site's list) never belong to a Tenant, whatever a Tenant lists."""
    return namespace.startswith(SYSTEM_NAMESPACE_PREFIX) or namespace in protected
