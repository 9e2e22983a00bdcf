"""A stand-in kubelet for kwok nodes: runs pods annotated `localcluster.fairshare.dev/run-locally` as local processes.

There is no container runtime here, so the pod's command runs on this machine with the pod's environment.
Addresses that only exist inside a cluster network are rewritten to loopback: every job's rendezvous
(PET_MASTER_ADDR/MASTER_ADDR) becomes 127.0.0.1 on a port private to that job, and each pod gets its own loopback
address (127.x.y.z, all of 127.0.0.0/8 reaches this machine) as its `status.podIP`, where its trainer serves
metrics on the pod's own `metrics` port (FAIRSHARE_METRICS_ADDR). The operator then reads the real trainer as it
would in a cluster, at pod IP and port, and nothing a tenant writes names where. Like a kubelet, it reports phase
and exit codes on the pod's status, keeps the pod's output for `kubectl logs` (through kwok: localcluster.kwoklogs),
and on deletion sends SIGTERM, waits for the grace period, then removes the pod.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from fairshare.localcluster import kwoklogs
from fairshare.localcluster.processes import free_port

RUN_LOCALLY = "localcluster.fairshare.dev/run-locally"
JOB_LABEL = "fairshare.dev/job"
LOOPBACK = "127.0.0.1"
METRICS_ADDR_VAR = "FAIRSHARE_METRICS_ADDR"
ADDRESSES = 253 * 256 * 254  # 127.1.0.1 .. 127.253.255.254, less each /24's .0 and .255
ADDRESS_TRIES = 64
MASTER_ADDR_VARS = ("PET_MASTER_ADDR", "MASTER_ADDR")
MASTER_PORT_VARS = ("PET_MASTER_PORT", "MASTER_PORT")
METRICS_PORT_VAR = "FAIRSHARE_METRICS_PORT"
CHECKPOINT_DIR_VAR = "FAIRSHARE_CHECKPOINT_DIR"

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class LocalPod:
    """One pod's local process and what was rewritten for it."""

    namespace: str
    name: str
    process: subprocess.Popen[bytes]
    pod_ip: str
    grace_seconds: float
    log_path: Path
    terminating: bool = False


def loopback_address(index: int) -> str:
    """The `index`-th pod address in 127.0.0.0/8 (from 0), skipping 127.0.0.1 (the rendezvous') and the .0 and
    .255 of each /24: 127.1.0.1, 127.1.0.2, ..., 127.1.0.254, 127.1.1.1, ..."""
    per_24 = 254
    third, fourth = divmod(index, per_24)
    second, third = divmod(third, 256)
    if second >= 253:
        raise ValueError(f"no loopback address left for pod {index}")
    return f"127.{second + 1}.{third}.{fourth + 1}"


def address_free(address: str, port: int) -> bool:
    """Nothing listens on address:port (another runner on this machine may have handed the address out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def metrics_port(pod: dict[str, Any]) -> int | None:
    """The container port named `metrics` (the operator's: render/container.py), or None."""
    for port in pod["spec"]["containers"][0].get("ports") or []:
        if port.get("name") == "metrics":
            return int(port["containerPort"])
    return None


def local_env(pod: dict[str, Any], job_port: int, pod_ip: str, workdir: Path,
              base_env: dict[str, str]) -> dict[str, str]:
    """The process environment for a pod: its container env with cluster-only addresses made local, and its
    metrics server bound to the pod's own loopback address."""
    container = pod["spec"]["containers"][0]
    env = dict(base_env)
    for var in container.get("env") or []:
        if "value" not in var:
            raise ValueError(f"env {var.get('name')}: only literal values run locally (valueFrom is not supported)")
        env[var["name"]] = str(var["value"])
    for name in MASTER_ADDR_VARS:
        if name in env:
            env[name] = LOOPBACK
    for name in MASTER_PORT_VARS:
        if name in env:
            env[name] = str(job_port)
    env[METRICS_ADDR_VAR] = pod_ip
    port = metrics_port(pod)
    if port is not None and METRICS_PORT_VAR not in env:
        env[METRICS_PORT_VAR] = str(port)
    if CHECKPOINT_DIR_VAR in env:
        # The pod's volume does not exist here; one directory per job keeps checkpoints across its pods' restarts.
        job = pod["metadata"].get("labels", {}).get(JOB_LABEL, pod["metadata"]["name"])
        checkpoint = workdir / "checkpoints" / pod["metadata"]["namespace"] / job
        checkpoint.mkdir(parents=True, exist_ok=True)
        env[CHECKPOINT_DIR_VAR] = str(checkpoint)
    return env


class LocalPodRunner:
    """Watch pods cluster-wide and run those annotated run-locally; stop() ends every process it started."""

    def __init__(self, kubeconfig: str, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
        self.custom = client.CustomObjectsApi(self.api.api_client)
        self.workdir = workdir
        self.base_env = {**os.environ, **(extra_env or {})}
        self.pods: dict[tuple[str, str], LocalPod] = {}
        self.job_ports: dict[tuple[str, str], int] = {}
        # Addresses start at a random place, so that two runners on one machine rarely offer the same one (each
        # address is also checked free at the pod's metrics port).
        self._next_address = random.randrange(ADDRESSES)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target in (self._watch_loop, self._reap_loop):
            thread = threading.Thread(target=target, daemon=True, name=f"podrunner-{target.__name__}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            pods = list(self.pods.values())
        for pod in pods:
            self._terminate(pod, grace=5.0)
        for thread in self._threads:
            thread.join(timeout=10)

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                for event in watch.Watch().stream(self.api.list_pod_for_all_namespaces, timeout_seconds=5,
                                                  _request_timeout=10):
                    self._on_pod(event["type"], self.api.api_client.sanitize_for_serialization(event["object"]))
                    if self._stop.is_set():
                        return
            except Exception:  # the watch is restarted: a runner that dies silently would hang every e2e test
                log.exception("pod watch failed; restarting")
                time.sleep(1)

    def _on_pod(self, event_type: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if (meta.get("annotations") or {}).get(RUN_LOCALLY) != "true":
            return
        key = (meta["namespace"], meta["name"])
        with self._lock:
            running = self.pods.get(key)
        if event_type == "DELETED":
            if running:
                self._terminate(running, grace=0)
            return
        if meta.get("deletionTimestamp"):
            if running and not running.terminating:
                running.terminating = True
                threading.Thread(target=self._graceful_delete, args=(running,), daemon=True).start()
            elif not running:
                self._delete_now(*key)
            return
        if running or not pod["spec"].get("nodeName") or (pod.get("status") or {}).get("phase") in (
                "Running", "Succeeded", "Failed"):
            return
        self._launch(pod)

    def _launch(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        key = (meta["namespace"], meta["name"])
        job_key = (meta["namespace"], (meta.get("labels") or {}).get(JOB_LABEL, meta["name"]))
        with self._lock:
            job_port = self.job_ports.setdefault(job_key, free_port())
        container = spec["containers"][0]
        pod_ip = self._pod_address(metrics_port(pod))
        log_path = self.workdir / "logs" / meta["namespace"] / f"{meta['name']}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            env = local_env(pod, job_port, pod_ip, self.workdir, self.base_env)
            argv = list(container.get("command") or []) + list(container.get("args") or [])
            if not argv:
                raise ValueError("container has no command: the image's entrypoint cannot run locally")
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=self.workdir, start_new_session=True)
        except (OSError, ValueError) as exc:
            self._patch_status(*key, self._terminated_status(pod, 127, "StartError", str(exc)))
            return
        # The output as written (log_path), and as a kubelet keeps it, for `kubectl logs` through kwok.
        cri_path = log_path.with_suffix(".cri.log")
        assert proc.stdout is not None
        kwoklogs.copy_output(proc.stdout, log_path, cri_path)
        try:
            self.custom.create_namespaced_custom_object(
                kwoklogs.GROUP, kwoklogs.VERSION, meta["namespace"], kwoklogs.PLURAL,
                kwoklogs.logs_object(pod, container["name"], cri_path))
        except ApiException as exc:
            if exc.status != 409:  # a pod started again by a new runner: its Logs object is there
                log.warning("no Logs object for %s/%s (kubectl logs will not work): %s", *key, exc.reason)
        grace = float(spec.get("terminationGracePeriodSeconds", 30))
        with self._lock:
            self.pods[key] = LocalPod(*key, proc, pod_ip, grace, log_path)
        self._patch_status(*key, {
            "phase": "Running", "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "hostIP": LOOPBACK,
            "startTime": _now(),
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": _now()}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": container["name"], "image": container.get("image", ""), "ready": True,
                                   "restartCount": 0, "started": True,
                                   "state": {"running": {"startedAt": _now()}}}],
        })

    def _pod_address(self, port: int | None) -> str:
        """A loopback address no pod of this runner has had, free at `port` when the pod serves metrics (after
        ADDRESS_TRIES taken ones, the next: something listens on the port at every address, and the trainer will
        say so when it cannot bind)."""
        for _ in range(ADDRESS_TRIES):
            with self._lock:
                index, self._next_address = self._next_address, self._next_address + 1
            address = loopback_address(index % ADDRESSES)
            if port is None or address_free(address, port):
                return address
        return address

    def _terminated_status(self, pod: dict[str, Any], code: int, reason: str, message: str = "") -> dict[str, Any]:
        container = pod["spec"]["containers"][0]
        return {"phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [{"name": container["name"], "image": container.get("image", ""),
                                       "ready": False, "restartCount": 0, "started": False,
                                       "state": {"terminated": {"exitCode": code, "reason": reason,
                                                                "message": message[:1000], "finishedAt": _now()}}}]}

    def _reap_loop(self) -> None:
        """Report processes that exited on their own as Succeeded or Failed, with the exit code."""
        while not self._stop.wait(0.2):
            with self._lock:
                finished = [p for p in self.pods.values() if p.process.poll() is not None and not p.terminating]
                for p in finished:
                    del self.pods[(p.namespace, p.name)]
            for p in finished:
                code = int(p.process.returncode)
                try:
                    pod = self.api.read_namespaced_pod(p.name, p.namespace)
                except ApiException:
                    continue
                status = self._terminated_status(self.api.api_client.sanitize_for_serialization(pod), code,
                                                 "Completed" if code == 0 else "Error")
                self._patch_status(p.namespace, p.name, status)

    def _graceful_delete(self, pod: LocalPod) -> None:
        self._terminate(pod, grace=pod.grace_seconds)
        self._delete_now(pod.namespace, pod.name)

    def _terminate(self, pod: LocalPod, grace: float) -> None:
        """SIGTERM the pod's process group (the trainer checkpoints), SIGKILL after `grace` seconds."""
        pod.terminating = True
        if pod.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pod.process.pid, signal.SIGTERM)
            try:
                pod.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pod.process.pid, signal.SIGKILL)
                pod.process.wait()
        with self._lock:
            self.pods.pop((pod.namespace, pod.name), None)

    def _delete_now(self, namespace: str, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.api.delete_namespaced_pod(name, namespace, grace_period_seconds=0)

    def _patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            self.api.patch_namespaced_pod_status(name, namespace, {"status": status})
        except ApiException as exc:
            if exc.status != 404:
                log.warning("status patch of %s/%s failed: %s", namespace, name, exc.reason)
