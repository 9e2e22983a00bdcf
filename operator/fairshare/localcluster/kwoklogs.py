"""Pod logs on kwok nodes: how `kubectl logs` (the API server's pods/log) reaches a locally run pod's output.

The API server asks a pod's node for its logs at the node's InternalIP and kubelet port, over HTTPS. kwok answers
there for its nodes (the cluster starts it with the node IP 127.0.0.1, its server's port as the kubelet port and a
serving certificate) with the file that a `Logs` object (kwok.x-k8s.io/v1alpha1) names for the pod, in the CRI log
format kubelets keep (`<RFC 3339 time> stdout F <line>`), following it when asked. The local pod runner writes each
pod's output in that format and creates the pod's `Logs` object.
"""

from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import IO, Any

GROUP = "kwok.x-k8s.io"
VERSION = "v1alpha1"
PLURAL = "logs"

# kwok's own CRD (kustomize/crd/bases in its module) has the full schema; kwok reads only spec.logs, so this one keeps
# whatever it is given.
LOGS_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"kind": "Logs", "listKind": "LogsList", "plural": PLURAL, "singular": "logs"},
             "versions": [{"name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}


def cri_line(line: bytes, stream: str = "stdout", now: datetime.datetime | None = None) -> bytes:
    """One output line as a kubelet keeps it: time, stream, F (a full line), the text."""
    when = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{when} {stream} F ".encode() + line.rstrip(b"\n") + b"\n"


def copy_output(pipe: IO[bytes], raw: Path, cri: Path) -> threading.Thread:
    """Copy a process's output, line by line as it comes, to `raw` (as written) and to `cri` (in the CRI format), on
    a thread of its own that ends with the output."""
    def run() -> None:
        with pipe, open(raw, "ab") as plain, open(cri, "ab") as kept:
            for line in iter(pipe.readline, b""):
                plain.write(line)
                plain.flush()
                kept.write(cri_line(line))
                kept.flush()

    thread = threading.Thread(target=run, daemon=True, name=f"podrunner-output-{raw.name}")
    thread.start()
    return thread


def logs_object(pod: dict[str, Any], container: str, path: Path) -> dict[str, Any]:
    """The `Logs` object that points kwok at the pod's CRI log file; owned by the pod, so it goes with it."""
    meta = pod["metadata"]
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Logs",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                                              "uid": meta["uid"]}]},
            "spec": {"logs": [{"containers": [container], "logsFile": str(path), "follow": True}]}}
