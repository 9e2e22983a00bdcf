"""End to end: the operator launches real trainer processes whose measured throughput feeds back into allocation.

A small cluster of its own (one 1-GPU node of a "fast" class whose prior says 3x, one of a "slow" class), the
local pod runner executing each worker pod's torchrun as a real process, and the operator as a subprocess.
Heterogeneity is emulated (every class is this CPU): a job's --emulated-class-speed makes it run at a fraction of
its real speed on a class, and the operator only ever sees what the trainer measures.
"""

from __future__ import annotations

import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from fairshare.api.constants import GROUP, VERSION
from fairshare.localcluster import toolchain
from fairshare.localcluster.cluster import ClusterState, LocalCluster
from fairshare.localcluster.podrunner import RUN_LOCALLY, LocalPodRunner
from fairshare.localcluster.processes import free_port, spawn, stop, tail
from fairshare.localcluster.shape import NodePool
from tests.conftest import REPO_ROOT, Kubectl
from tests.support.kube import read_pod
from tests.support.operator import OperatorProcess
from tests.support.teams import delete_and_wait
from tests.support.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

FAST, SLOW = "fast", "slow"
CLASSES = {FAST: 3.0, SLOW: 1.0}  # relativeSpeed priors; both cost 1 credit per GPU-hour
OPERATOR_ENV = {"FAIRSHARE_POLICY_MIN_RUN_SECONDS": "15", "FAIRSHARE_FEEDBACK_PERIOD_SECONDS": "2",
                "FAIRSHARE_FEEDBACK_WARMUP_SECONDS": "6"}
START = 180.0  # a trainer imports torch and forms its gloo group on a busy 2-core machine
SETTLE = 30.0  # seconds from admission to a reading that no longer carries start-up (6 s warm-up, 2 s period)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterState]:
    bins, _ = toolchain.ensure(verbose=False)
    local = LocalCluster(tmp_path_factory.mktemp("feedback-cluster"), binaries=bins,
                         pools=(NodePool(FAST, count=1, gpus_per_node=1), NodePool(SLOW, count=1, gpus_per_node=1)))
    state = local.start(timeout=180)
    try:
        yield state
    finally:
        local.stop()


@pytest.fixture(scope="module")
def api(cluster: ClusterState) -> Iterator[client.ApiClient]:
    Kubectl(toolchain.binaries().kubectl, cluster.kubeconfig)("apply", "-f", str(REPO_ROOT / "crds"))
    api_client = config.new_client_from_config(config_file=cluster.kubeconfig)
    custom = client.CustomObjectsApi(api_client)
    for name, speed in CLASSES.items():
        wait_for(lambda name=name, speed=speed: _create_class(custom, name, speed), timeout=60,
                 what=f"GPUClass {name} accepted (CRD established)")
    yield api_client
    api_client.close()


def _create_class(custom: client.CustomObjectsApi, name: str, speed: float) -> bool:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "GPUClass", "metadata": {"name": name},
            "spec": {"nodeSelector": {"fairshare.dev/gpu-class": name}, "pricePerGPUHour": 1.0, "powerWatts": 300,
                     "relativeSpeed": speed}}
    try:
        custom.create_cluster_custom_object(GROUP, VERSION, "gpuclasses", body)
    except ApiException as exc:
        if exc.status == 404:
            return False  # the CRD is not served yet
        if exc.status != 409:
            raise
    return True


@pytest.fixture(scope="module")
def runner(cluster: ClusterState, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPodRunner]:
    pods = LocalPodRunner(cluster.kubeconfig, tmp_path_factory.mktemp("runner"),
                          extra_env={"PYTHONPATH": str(REPO_ROOT / "trainer_image"), "OMP_NUM_THREADS": "1"})
    pods.start()
    yield pods
    pods.stop()


class Tenant:
    """A tenant bound to a fresh namespace, deleted (with its jobs) after the test."""

    def __init__(self, api: client.ApiClient, prefix: str, spec: dict[str, Any]) -> None:
        self.core, self.custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        self.name = self.namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.core.create_namespace({"metadata": {"name": self.namespace}})
        wait_for(lambda: any(sa.metadata.name == "default"
                             for sa in self.core.list_namespaced_service_account(self.namespace).items),
                 timeout=60, what=f"default ServiceAccount in {self.namespace}")
        self.custom.create_cluster_custom_object(GROUP, VERSION, "tenants", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Tenant", "metadata": {"name": self.name},
            "spec": {"namespaces": [self.namespace], **spec}})

    def submit_trainer(self, name: str, classes: list[str], speeds: str = "") -> None:
        """A 1-worker, 1-GPU job running the real trainer (tiny model, until stopped, checkpoints every 5 s)."""
        args = ["--model-size", "tiny", "--batch-size", "4", "--max-steps", "0", "--checkpoint-every-seconds", "5",
                "--log-every-steps", "5"]
        if speeds:
            args += ["--emulated-class-speed", speeds]
        container = {"name": "trainer", "image": "ghcr.io/fairshare-dev/trainer:0.1.0",
                     "command": [sys.executable, "-m", "torch.distributed.run", "-m", "fairshare_trainer"],
                     "args": args}
        self._submit(name, classes, {"metadata": {"annotations": {RUN_LOCALLY: "true"}},
                                     "spec": {"containers": [container]}})

    def submit_placeholder(self, name: str, classes: list[str]) -> None:
        """A job whose pod kwok keeps Running without a process: it only holds the GPU."""
        container = {"name": "trainer", "image": "registry.invalid/hold:0", "command": ["sleep", "infinity"]}
        self._submit(name, classes, {"spec": {"containers": [container]}})

    def _submit(self, name: str, classes: list[str], template: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "trainingjobs", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "TrainingJob", "metadata": {"name": name},
            "spec": {"workers": {"min": 1, "max": 1}, "gpusPerWorker": 1, "gpuClasses": classes,
                     "podTemplate": template}})

    def job(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, "trainingjobs", name)

    def status(self, name: str) -> dict[str, Any]:
        return self.job(name).get("status") or {}

    def running_on(self, name: str) -> str | None:
        """The class the job runs on, once its phase is Running."""
        status = self.status(name)
        return (status.get("allocation") or {}).get("gpuClass") if status.get("phase") == "Running" else None

    def measured(self, name: str) -> dict[str, float]:
        """class -> smoothed samples/s recorded on the job (1 worker)."""
        return {s["gpuClass"]: s["samplesPerSecond"] for s in self.status(name).get("throughput") or []}

    def measured_for(self, name: str, gpu_class: str) -> float:
        """Seconds from the job's current admission to the latest reading on `gpu_class` (0 if none yet)."""
        status = self.status(name)
        admitted = (status.get("allocation") or {}).get("admittedAt")
        at = next((s.get("measuredAt") for s in status.get("throughput") or [] if s["gpuClass"] == gpu_class), None)
        if not admitted or not at:
            return 0.0
        return (datetime.fromisoformat(at.replace("Z", "+00:00"))
                - datetime.fromisoformat(admitted.replace("Z", "+00:00"))).total_seconds()

    def delete_job(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, "trainingjobs", name)

    def delete(self) -> None:
        for item in self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, "trainingjobs")["items"]:
            self.delete_job(item["metadata"]["name"])
        self.custom.delete_cluster_custom_object(GROUP, VERSION, "tenants", self.name)
        self.core.delete_namespace(self.namespace)


@pytest.fixture
def tenants(api: client.ApiClient, runner: LocalPodRunner) -> Iterator[list[Tenant]]:
    made: list[Tenant] = []
    yield made
    delete_and_wait(api, made)


def start_operator(cluster: ClusterState, log: Path, **settings: str) -> OperatorProcess:
    proc = OperatorProcess(cluster.kubeconfig, log, env={**OPERATOR_ENV, **settings})
    proc.start()
    return proc


@pytest.fixture
def operator(cluster: ClusterState, tmp_path: Path) -> Iterator[OperatorProcess]:
    proc = start_operator(cluster, tmp_path / "operator.log")
    yield proc
    proc.stop()
    print(f"--- operator log tail ---\n{tail(proc.log, 40)}")


def trainer_events(runner: LocalPodRunner, namespace: str, pod: str, event: str) -> list[dict[str, Any]]:
    """The trainer's JSON events of one kind from a pod's log (every generation of the pod appends to it)."""
    path = runner.workdir / "logs" / namespace / f"{pod}.log"
    if not path.exists():
        return []
    events = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == event:
                events.append(record)
    return events


def test_preempted_job_checkpoints_requeues_and_resumes_from_its_step(
        api: client.ApiClient, runner: LocalPodRunner, operator: OperatorProcess, tenants: list[Tenant]) -> None:
    owner = Tenant(api, "owner", {"guaranteed": {FAST: 1}})
    borrower = Tenant(api, "borrower", {})
    tenants += [owner, borrower]
    borrower.submit_trainer("borrowed", [FAST])
    pod = "borrowed-worker-0"
    wait_for(lambda: any(e["step"] >= 20 for e in trainer_events(runner, borrower.namespace, pod, "step")),
             timeout=START, what=lambda: f"borrowed job training; status {borrower.status('borrowed')}")
    wait_for(lambda: borrower.measured("borrowed").get(FAST), timeout=60,
             what=lambda: f"throughput recorded on the job: {borrower.status('borrowed')}")

    owner.submit_placeholder("owner-job", [FAST])  # the owner claims its guarantee
    [stopped] = wait_for(lambda: trainer_events(runner, borrower.namespace, pod, "stopped"), timeout=90,
                         what=lambda: f"the borrower's trainer stopped; status {borrower.status('borrowed')}")
    assert stopped["signal"] == "SIGTERM" and stopped["last_checkpoint_step"] == stopped["step"] > 0
    wait_for(lambda: owner.running_on("owner-job") == FAST, timeout=90,
             what=lambda: f"owner admitted; {owner.status('owner-job')}")
    status = borrower.status("borrowed")
    assert status["phase"] in ("Preempted", "Queued"), status
    preempted = {c["type"]: c for c in status["conditions"]}["Preempted"]
    assert (preempted["status"], preempted["reason"]) in (("True", "Preempted"), ("False", "Requeued")), status

    owner.delete_job("owner-job")  # the GPU is free again: the borrower comes back
    [resumed] = wait_for(lambda: trainer_events(runner, borrower.namespace, pod, "resumed"), timeout=START,
                         what=lambda: f"the borrower resumed; status {borrower.status('borrowed')}")
    assert resumed["step"] == stopped["step"]  # from its checkpoint, not from zero
    wait_for(lambda: any(e["step"] > stopped["step"] for e in trainer_events(runner, borrower.namespace, pod,
                                                                            "step")),
             timeout=60, what="training continues past the preemption step")
    assert borrower.running_on("borrowed") == FAST


def test_measured_throughput_moves_jobs_to_the_classes_that_raise_total_throughput(
        api: client.ApiClient, runner: LocalPodRunner, operator: OperatorProcess, tenants: list[Tenant]) -> None:
    team = Tenant(api, "team", {"guaranteed": {FAST: 1, SLOW: 1}})
    tenants.append(team)
    core = client.CoreV1Api(api)
    # Another workload holds the fast GPU at first, so the memory-bound job starts on the slow class.
    core.create_namespaced_pod(team.namespace, {
        "metadata": {"name": "other-workload"},
        "spec": {"nodeName": f"{FAST}-000", "containers": [{
            "name": "hold", "image": "registry.invalid/hold:0",
            "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}}]}})
    # memory-bound gains nothing from the fast class; compute-bound runs 4x slower on the slow one.
    team.submit_trainer("memory-bound", [FAST, SLOW], speeds=f"{FAST}=1,{SLOW}=1")
    # Readings keep coming while it runs there; the first ones, soon after the warm-up, still carry start-up (a
    # 2x low reading here once made memory-bound look 2x slower on the slow class, more than the 1.5x a swap may
    # cost a job, so the swap below was refused). The smoothed value forgets them at 0.7 per reading, so wait for
    # SETTLE seconds of readings (~10, 3% weight left on the first).
    wait_for(lambda: team.measured_for("memory-bound", SLOW) >= SETTLE, timeout=START,
             what=lambda: f"memory-bound measured on {SLOW} for {SETTLE:.0f} s: {team.status('memory-bound')}")

    core.delete_namespaced_pod("other-workload", team.namespace, grace_period_seconds=0)
    # The fast class frees up: the prior promises 3x, so the measured job moves there and is measured again.
    wait_for(lambda: team.measured("memory-bound").get(FAST), timeout=START,
             what=lambda: f"memory-bound moved to {FAST} and measured: {team.status('memory-bound')}")
    memory = team.measured("memory-bound")
    # As emulated it is no faster on the fast class; the measured ratio also carries this shared machine's noise
    # (up to 2x between runs), which is why the swap rule compares products of speed-ups against 1.5.
    assert memory[FAST] > 0 and memory[SLOW] > 0, memory

    team.submit_trainer("compute-bound", [FAST, SLOW], speeds=f"{FAST}=1,{SLOW}=0.25")
    wait_for(lambda: team.measured("compute-bound").get(SLOW), timeout=START,
             what=lambda: f"compute-bound measured on {SLOW}: {team.status('compute-bound')}")
    # Feedback says memory-bound loses nothing on the slow class while compute-bound would gain: they swap.
    wait_for(lambda: team.running_on("compute-bound") == FAST and team.running_on("memory-bound") == SLOW,
             timeout=START, what=lambda: f"swapped: {team.status('compute-bound')} / {team.status('memory-bound')}")
    wait_for(lambda: team.measured("compute-bound").get(FAST), timeout=START,
             what=lambda: f"compute-bound measured on {FAST}: {team.status('compute-bound')}")
    compute = team.measured("compute-bound")
    assert compute[FAST] > 1.5 * compute[SLOW], compute  # 4x as emulated, less this machine's noise
    reasons = [c.get("message", "") for c in team.status("compute-bound")["conditions"]]
    assert any("swapping" in r for r in reasons) or team.status("compute-bound")["allocation"]["generation"] == 2


def test_prometheus_mode_feeds_the_same_loop(api: client.ApiClient, runner: LocalPodRunner, cluster: ClusterState,
                                             tenants: list[Tenant], tmp_path: Path) -> None:
    team = Tenant(api, "prom", {"guaranteed": {SLOW: 1}})
    tenants.append(team)
    core = client.CoreV1Api(api)
    port = free_port()
    targets = tmp_path / "trainers.json"
    targets.write_text("[]")
    (tmp_path / "prometheus.yml").write_text(textwrap.dedent(f"""\
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        scrape_configs:
        - job_name: trainers
          file_sd_configs: [{{files: ["{targets}"], refresh_interval: 1s}}]
        """))
    prometheus = spawn("prometheus", ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                                      f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{port}"], tmp_path)
    operator = start_operator(cluster, tmp_path / "operator.log", FAIRSHARE_FEEDBACK_SOURCE="prometheus",
                              FAIRSHARE_PROMETHEUS_URL=f"http://127.0.0.1:{port}")
    try:
        team.submit_trainer("observed", [SLOW])
        # Service discovery as a PodMonitor would do it: the pod's IP and its `metrics` port.
        endpoint = wait_for(lambda: _pod_metrics(read_pod(core, "observed-worker-0", team.namespace)), timeout=START,
                            what="the trainer pod's metrics endpoint")
        targets.write_text(json.dumps([{"targets": [endpoint], "labels": {"namespace": team.namespace}}]))
        wait_for(lambda: team.measured("observed").get(SLOW), timeout=START,
                 what=lambda: f"throughput read through Prometheus: {team.status('observed')}")
        metrics = wait_for(lambda: _scrape(operator.metrics_port), timeout=30, what="operator metrics")
        assert 'fairshare_feedback_scrapes_total{result="ok",source="prometheus"}' in metrics
        assert 'source="scrape"' not in metrics
    finally:
        operator.stop()
        stop(prometheus)
        print(f"--- operator log tail ---\n{tail(operator.log, 40)}")


def _pod_metrics(pod: client.V1Pod | None) -> str | None:
    """pod IP:metrics port, once the pod has an IP."""
    if pod is None or not pod.status.pod_ip:
        return None
    ports = [p.container_port for p in pod.spec.containers[0].ports or [] if p.name == "metrics"]
    return f"{pod.status.pod_ip}:{ports[0]}" if ports else None


def _scrape(port: int) -> str | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None
