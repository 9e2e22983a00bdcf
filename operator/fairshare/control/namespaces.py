"""Which Tenant owns a namespace (the oldest that lists it; none owns a system namespace), and what a Tenant is told."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fairshare.api import GPUClass as GPUClassCR
from fairshare.api import Tenant as TenantCR
from fairshare.api.constants import SYSTEM_NAMESPACE_PREFIX

# Besides Kubernetes's kube-* (which the Tenant CRD refuses too); the chart's protectedNamespaces replaces this list
# and adds the operator's own namespace.
DEFAULT_PROTECTED_NAMESPACES = frozenset({"default"})


def is_system_namespace(namespace: str, protected: Iterable[str] = DEFAULT_PROTECTED_NAMESPACES) -> bool:
    """Rule: Kubernetes's own namespaces (the kube- prefix) and the protected ones (default, the operator's own, the
    site's list) never belong to a Tenant, whatever a Tenant lists."""
    return namespace.startswith(SYSTEM_NAMESPACE_PREFIX) or namespace in protected


def age_order(item: tuple[str, TenantCR | GPUClassCR]) -> tuple[float, str]:
    """(creationTimestamp, name): the order in which an older Tenant or GPUClass wins a claim (a namespace, a node)."""
    created = item[1].metadata.creation_timestamp
    return (created.timestamp() if created else float("inf"), item[0])


def namespace_owners(tenants: Mapping[str, TenantCR], protected: frozenset[str] = DEFAULT_PROTECTED_NAMESPACES) \
        -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Rule: a namespace belongs to the oldest Tenant that lists it (by creationTimestamp, then name); a later
    claim is ignored, so creating a Tenant can never take a namespace, and its jobs, from another. A system
    namespace belongs to no Tenant. Returns namespace -> tenant, and tenant -> {namespace it
    lost -> the tenant holding it}."""
    owners: dict[str, str] = {}
    lost: dict[str, dict[str, str]] = {}
    for name, tenant in sorted(tenants.items(), key=age_order):
        for ns in tenant.spec.namespaces:
            if is_system_namespace(ns, protected):
                continue
            if ns in owners:
                lost.setdefault(name, {})[ns] = owners[ns]
            else:
                owners[ns] = name
    return owners, lost


def system_namespace_claims(tenants: Mapping[str, TenantCR], protected: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """tenant -> the system namespaces its spec.namespaces lists, which it does not get."""
    claims = {name: tuple(ns for ns in t.spec.namespaces if is_system_namespace(ns, protected))
              for name, t in tenants.items()}
    return {name: namespaces for name, namespaces in claims.items() if namespaces}


def namespace_conflict(lost: Mapping[str, str]) -> str | None:
    """What a Tenant is told of the namespaces it lost to older Tenants (namespace_owners: namespace -> holder)."""
    if not lost:
        return None
    held = "; ".join(f"namespace {ns} is held by Tenant {owner}" for ns, owner in sorted(lost.items()))
    return (f"{held} (the oldest Tenant that lists a namespace owns it); it is ignored for this Tenant, so remove it "
            f"from spec.namespaces or from the other Tenant")


def system_namespaces(claimed: Sequence[str], protected: Iterable[str]) -> str | None:
    """What a Tenant is told of the system namespaces its spec.namespaces lists (system_namespace_claims)."""
    if not claimed:
        return None
    listed = ", ".join(sorted(protected))
    return (f"spec.namespaces lists the system namespace{'s' if len(claimed) > 1 else ''} {', '.join(claimed)}, "
            f"which no Tenant owns (kube-*, and the operator's protected namespaces: {listed}); the operator "
            f"ignores {'them' if len(claimed) > 1 else 'it'} and runs no job there, so remove "
            f"{'them' if len(claimed) > 1 else 'it'} from spec.namespaces")
