"""What an operator run by the local cluster is told that a production one never is: tolerate kwok's node taint."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fairshare.localcluster.shape import KWOK_NODE_ANNOTATION

WORKER_POD_ENV = "FAIRSHARE_WORKER_POD"  # fairshare.settings reads it (the chart's workerPod values, as JSON)
# kwok's simulated nodes may carry this taint (kwok's examples add it); only the local cluster's workers tolerate it.
KWOK_TOLERATION: Mapping[str, str] = {"key": KWOK_NODE_ANNOTATION, "operator": "Exists", "effect": "NoSchedule"}


def local_operator_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with the kwok toleration added to the worker pod settings it already holds (if any)."""
    raw = environ.get(WORKER_POD_ENV, "").strip()
    settings: dict[str, Any] = json.loads(raw) if raw else {}
    tolerations = list(settings.get("tolerations") or [])
    if dict(KWOK_TOLERATION) not in tolerations:
        tolerations.append(dict(KWOK_TOLERATION))
    return {**environ, WORKER_POD_ENV: json.dumps({**settings, "tolerations": tolerations})}
