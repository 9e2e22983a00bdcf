"""The restricted Pod Security profile of worker pods, and what a site's settings may add to it (never take away).

A site may set user and group IDs, SELinux and AppArmor labels, a Localhost seccomp profile, extra dropped
capabilities, NET_BIND_SERVICE, supplemental groups and the safe sysctls; never a privileged, root, writable-root or
unconfined pod. The checks below are the Pod Security Standards' restricted (and baseline) checks that a pod's
security contexts alone can fail, run on the merged contexts, so no combination of settings escapes them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

DEFAULT_ID = 1000
# The IDs a worker runs as unless the site says otherwise (not safety settings: a site may change or drop them, e.g.
# where OpenShift assigns each namespace its own range).
DEFAULT_POD_IDS: Mapping[str, int] = {"runAsUser": DEFAULT_ID, "runAsGroup": DEFAULT_ID, "fsGroup": DEFAULT_ID}
RESTRICTED_POD: Mapping[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER: Mapping[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})  # the only one the restricted profile allows
CONFINED_PROFILES = frozenset({"RuntimeDefault", "Localhost"})
ALLOWED_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# The baseline profile's safe sysctls (namespaced, no effect on other pods or the node).
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})
POD_FIELD = "podSecurityContext"
CONTAINER_FIELD = "containerSecurityContext"
WHY = "worker pods run under the restricted Pod Security profile, which settings may add to but never weaken"


def pod_security_context(site: Mapping[str, Any]) -> dict[str, Any]:
    """The pod's securityContext: the site's fields (or the default IDs) over the restricted ones (a fresh copy, so
    no two pods share a nested dict)."""
    return copy.deepcopy({**RESTRICTED_POD, **site})


def container_security_context(site: Mapping[str, Any]) -> dict[str, Any]:
    """The trainer container's securityContext: the site's fields over the restricted ones; ALL stays dropped."""
    merged = copy.deepcopy({**RESTRICTED_CONTAINER, **site})
    capabilities = dict(site.get("capabilities") or {})
    drop = ["ALL", *(c for c in capabilities.get("drop") or [] if c != "ALL")]
    merged["capabilities"] = {**capabilities, "drop": drop}
    return merged


def restricted_violations(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each (field, problem) by which these pod and container security contexts fall short of the restricted
    profile; empty when they meet it. Fields are named as in the chart's workerPod values."""
    problems = _common_violations(POD_FIELD, pod) + _common_violations(CONTAINER_FIELD, container)
    for index, sysctl in enumerate(pod.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append((f"{POD_FIELD}.sysctls[{index}].name",
                             f"sysctl {sysctl.get('name')} is not one of the safe sysctls "
                             f"({', '.join(sorted(SAFE_SYSCTLS))}); it can affect other pods or the node; remove it"))
    if container.get("privileged") is not False:
        problems.append((f"{CONTAINER_FIELD}.privileged",
                         f"must stay false: a privileged container owns the node; {WHY}"))
    if container.get("allowPrivilegeEscalation") is not False:
        problems.append((f"{CONTAINER_FIELD}.allowPrivilegeEscalation",
                         f"must stay false: setuid binaries could gain root; {WHY}"))
    if container.get("readOnlyRootFilesystem") is not True:
        problems.append((f"{CONTAINER_FIELD}.readOnlyRootFilesystem",
                         "must stay true: the trainer writes only to its volumes (/tmp, /dev/shm, the checkpoint); "
                         "remove the setting"))
    capabilities = container.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append((f"{CONTAINER_FIELD}.capabilities.drop", f"must include ALL; {WHY}"))
    for index, capability in enumerate(capabilities.get("add") or []):
        if capability not in ALLOWED_ADDED_CAPABILITIES:
            problems.append((f"{CONTAINER_FIELD}.capabilities.add[{index}]",
                             f"capability {capability} is not allowed (only NET_BIND_SERVICE may be added); {WHY}"))
    if container.get("procMount", "Default") != "Default":
        problems.append((f"{CONTAINER_FIELD}.procMount", f"must be Default: an unmasked /proc exposes the host; {WHY}"))
    return problems


def _common_violations(field: str, context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Checks that read the same on the pod's and the container's securityContext."""
    problems: list[tuple[str, str]] = []
    if context.get("runAsNonRoot") is False or (field == POD_FIELD and context.get("runAsNonRoot") is not True):
        problems.append((f"{field}.runAsNonRoot", f"must stay true: workers never run as root; {WHY}"))
    if context.get("runAsUser") == 0:
        problems.append((f"{field}.runAsUser", f"uid 0 is root; choose a non-zero uid; {WHY}"))
    for key in ("seccompProfile", "appArmorProfile"):
        profile = context.get(key)
        if profile is not None and profile.get("type") not in CONFINED_PROFILES:
            problems.append((f"{field}.{key}.type", f"{profile.get('type')} turns the confinement off; use "
                             f"RuntimeDefault or Localhost; {WHY}"))
    if field == POD_FIELD and context.get("seccompProfile") is None:
        problems.append((f"{field}.seccompProfile", f"must be set to RuntimeDefault or Localhost; {WHY}"))
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
        problems.append((f"{field}.seLinuxOptions.type", f"SELinux type {selinux.get('type')} is not one of "
                         f"{', '.join(sorted(t for t in ALLOWED_SELINUX_TYPES if t))}; {WHY}"))
    for key in ("user", "role"):
        if selinux.get(key):
            problems.append((f"{field}.seLinuxOptions.{key}", f"setting an SELinux {key} is not allowed; {WHY}"))
    return problems
