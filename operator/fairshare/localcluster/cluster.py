"""A real local control plane (etcd, apiserver, controller-manager, scheduler, kwok) on loopback ports."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import ssl
import time
from importlib import resources
from pathlib import Path
from typing import Any

from fairshare.localcluster import kwoklogs, pki, processes, toolchain
from fairshare.localcluster.processes import ProcessRecord, free_port
from fairshare.localcluster.shape import DEFAULT_POOLS, NodePool, node_manifest

STATE_FILE = "state.json"
SERVICE_CIDR = "10.0.0.0/24"


def default_data_dir(name: str = "default") -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return base / "fairshare" / "clusters" / name


@dataclasses.dataclass
class ClusterState:
    """What a running local cluster is: where its files are, its ports, and the processes to stop."""

    data_dir: str
    kubeconfig: str
    server: str
    ports: dict[str, int]
    processes: list[ProcessRecord]
    pools: list[NodePool]
    startup_seconds: dict[str, float]

    def save(self) -> None:
        Path(self.data_dir, STATE_FILE).write_text(json.dumps(dataclasses.asdict(self), indent=2))

    @classmethod
    def load(cls, data_dir: Path) -> ClusterState | None:
        path = data_dir / STATE_FILE
        if not path.is_file():
            return None
        raw = json.loads(path.read_text())
        raw["processes"] = [ProcessRecord(**p) for p in raw["processes"]]
        raw["pools"] = [NodePool(**p) for p in raw["pools"]]
        return cls(**raw)

    def running(self) -> list[ProcessRecord]:
        return [p for p in self.processes if processes.is_alive(p)]

    def node_names(self) -> list[str]:
        return [name for pool in self.pools for name in pool.node_names()]


class LocalCluster:
    """Start and stop one cluster whose every file lives under data_dir and every port is free on 127.0.0.1."""

    def __init__(self, data_dir: Path, pools: tuple[NodePool, ...] = DEFAULT_POOLS,
                 binaries: toolchain.Binaries | None = None) -> None:
        self.data_dir = data_dir
        self.pools = pools
        self.binaries = binaries or toolchain.binaries()
        self.state: ClusterState | None = None

    def start(self, timeout: float = 120.0) -> ClusterState:
        """Bring every component up in order, create the GPU nodes, and wait until pods can be scheduled."""
        existing = ClusterState.load(self.data_dir)
        if existing and existing.running():
            raise RuntimeError(f"a cluster is already running from {self.data_dir}; stop it first "
                               f"(fairshare cluster down --data-dir {self.data_dir})")
        missing = self.binaries.missing_for_cluster()
        if missing:
            raise RuntimeError(f"control-plane binaries missing: {missing}; run `fairshare toolchain` first")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True)
        timings: dict[str, float] = {}
        clock = time.monotonic()

        certs = pki.generate(self.data_dir / "pki")
        ports = {name: free_port() for name in
                 ("etcd", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok")}
        server = f"https://127.0.0.1:{ports['apiserver']}"
        kubeconfig = pki.write_kubeconfig(self.data_dir / "kubeconfig", server, certs)
        self.state = ClusterState(data_dir=str(self.data_dir), kubeconfig=str(kubeconfig), server=server, ports=ports,
                                  processes=[], pools=list(self.pools), startup_seconds=timings)
        timings["pki"] = round(time.monotonic() - clock, 2)
        try:
            self._start_components(certs, ports, logs, timeout, timings)
            step = time.monotonic()
            self._create_nodes()
            self._wait_schedulable(timeout)
            timings["nodes_ready"] = round(time.monotonic() - step, 2)
        except BaseException:
            self.stop()
            raise
        timings["total"] = round(time.monotonic() - clock, 2)
        self.state.save()
        return self.state

    def _spawn(self, name: str, argv: list[str], logs: Path) -> ProcessRecord:
        assert self.state is not None
        record = processes.spawn(name, argv, logs)
        self.state.processes.append(record)
        self.state.save()  # saved at once, so `down` can stop it even if start-up fails later
        return record

    def _start_components(self, certs: pki.PKIPaths, ports: dict[str, int], logs: Path, timeout: float,
                          timings: dict[str, float]) -> None:
        b = self.binaries
        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        peer_url = f"http://127.0.0.1:{ports['etcd_peer']}"
        etcd = self._spawn("etcd", [
            str(b.etcd), "--name=default", f"--data-dir={self.data_dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
        ], logs)
        timings["etcd"] = round(processes.wait_until(lambda: processes.http_ok(f"{etcd_url}/health"), etcd,
                                                     timeout, "healthy"), 2)

        apiserver = self._spawn("kube-apiserver", [
            str(b.kube_apiserver), f"--etcd-servers={etcd_url}", "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1", f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={certs.serving_cert}", f"--tls-private-key-file={certs.serving_key}",
            f"--client-ca-file={certs.ca_cert}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={certs.service_account_pub}",
            f"--service-account-signing-key-file={certs.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--authorization-mode=RBAC",
            # No kubelets or real endpoints here: a loopback advertise address cannot back the kubernetes Service.
            "--endpoint-reconciler-type=none", "--profiling=false",
            f"--cert-dir={self.data_dir / 'apiserver-certs'}",
        ], logs)
        client_ctx = ssl.create_default_context(cafile=str(certs.ca_cert))
        client_ctx.load_cert_chain(str(certs.admin_cert), str(certs.admin_key))
        assert self.state is not None
        timings["kube-apiserver"] = round(processes.wait_until(
            lambda: processes.http_ok(f"{self.state.server}/readyz", client_ctx), apiserver, timeout, "ready"), 2)

        kubeconfig = self.state.kubeconfig
        step = time.monotonic()
        controller_manager = self._spawn("kube-controller-manager", [
            str(b.kube_controller_manager), f"--kubeconfig={kubeconfig}", "--leader-elect=false",
            f"--root-ca-file={certs.ca_cert}", f"--service-account-private-key-file={certs.service_account_key}",
            "--use-service-account-credentials=false", "--bind-address=127.0.0.1",
            f"--secure-port={ports['controller_manager']}", f"--cert-dir={self.data_dir / 'kcm-certs'}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
        ], logs)
        scheduler = self._spawn("kube-scheduler", [
            str(b.kube_scheduler), f"--kubeconfig={kubeconfig}", "--leader-elect=false",
            "--bind-address=127.0.0.1", f"--secure-port={ports['scheduler']}",
            f"--cert-dir={self.data_dir / 'scheduler-certs'}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
        ], logs)
        stages = self.data_dir / "kwok-stages.yaml"
        stages.write_text(resources.files("fairshare.localcluster").joinpath("kwok-stages.yaml").read_text())
        self._install_logs_crd()
        self._spawn("kwok", [
            str(b.kwok), f"--kubeconfig={kubeconfig}", f"--config={stages}", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--manage-nodes-with-label-selector=", "--cidr=10.244.0.1/16",
            # The API server asks a node for pod logs at its InternalIP and kubelet port, over HTTPS: kwok answers
            # there (fairshare.localcluster.kwoklogs), with the apiserver's own loopback serving certificate.
            "--node-ip=127.0.0.1", f"--node-port={ports['kwok']}", f"--server-address=127.0.0.1:{ports['kwok']}",
            f"--tls-cert-file={certs.serving_cert}", f"--tls-private-key-file={certs.serving_key}",
            "--enable-crds=Logs",
            # Heartbeat through Leases rather than Node status writes: far cheaper at thousands of nodes.
            "--node-lease-duration-seconds=40",
        ], logs)
        insecure = processes.insecure_context()
        for record, port in ((controller_manager, ports["controller_manager"]), (scheduler, ports["scheduler"])):
            processes.wait_until(lambda p=port: processes.http_ok(f"https://127.0.0.1:{p}/healthz", insecure),
                                 record, timeout, "healthy")
        timings["controllers"] = round(time.monotonic() - step, 2)

    def _install_logs_crd(self) -> None:
        """kwok's `Logs` resource, which the local pod runner creates for each pod it runs."""
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException

        assert self.state is not None
        api = client.ApiextensionsV1Api(config.new_client_from_config(config_file=self.state.kubeconfig))
        try:
            api.create_custom_resource_definition(kwoklogs.LOGS_CRD)
        except ApiException as exc:
            if exc.status != 409:
                raise

    def _core_api(self) -> Any:
        from kubernetes import client, config  # imported lazily: the toolchain CLI must work without it

        assert self.state is not None
        return client.CoreV1Api(config.new_client_from_config(config_file=self.state.kubeconfig))

    def _create_nodes(self) -> None:
        from kubernetes.client.exceptions import ApiException

        api = self._core_api()
        for pool in self.pools:
            for name in pool.node_names():
                try:
                    api.create_node(node_manifest(pool, name))
                except ApiException as exc:
                    if exc.status != 409:
                        raise

    def _wait_schedulable(self, timeout: float) -> None:
        """Every GPU node Ready and untainted, and the default ServiceAccount present (pods are refused before)."""
        from kubernetes.client.exceptions import ApiException

        assert self.state is not None
        api = self._core_api()
        wanted = set(self.state.node_names())
        deadline = time.monotonic() + timeout
        last = "no nodes listed yet"
        while time.monotonic() < deadline:
            nodes = api.list_node().items
            ready = {n.metadata.name for n in nodes
                     if any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
                     and not n.spec.taints}
            last = f"{len(ready & wanted)}/{len(wanted)} GPU nodes ready and untainted"
            if wanted <= ready:
                try:
                    api.read_namespaced_service_account("default", "default")
                    return
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                    last = "nodes ready; waiting for the default ServiceAccount (controller-manager)"
            time.sleep(0.5)
        raise processes.StartupError(f"cluster not schedulable after {timeout:.0f}s: {last}")

    def stop(self) -> None:
        """Stop exactly the processes this cluster started, newest first."""
        state = self.state or ClusterState.load(self.data_dir)
        if state is None:
            return
        for record in reversed(state.processes):
            processes.stop(record)
        state.processes = [p for p in state.processes if processes.is_alive(p)]
        state.save()


def attach_process(state: ClusterState, name: str, argv: list[str], env: dict[str, str] | None = None) -> ProcessRecord:
    """Start another process that belongs to this cluster (the operator), so `down` stops it too."""
    record = processes.spawn(name, argv, Path(state.data_dir) / "logs", env=env)
    state.processes.append(record)
    state.save()
    return record


def stop_cluster(data_dir: Path) -> list[str]:
    """Stop the cluster recorded in data_dir; returns the names of the processes that were running."""
    state = ClusterState.load(data_dir)
    if state is None:
        return []
    was_running = [p.name for p in state.running()]
    LocalCluster(data_dir, tuple(state.pools)).stop()
    return was_running
