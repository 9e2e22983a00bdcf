"""The operator on half-open connections (marker `chaos`): its kubeconfig points at a loopback relay to the real API
server, and the relay black-holes every connection, old and new, holding the sockets open and forwarding nothing.
While it lasts, liveness must fail (the cycle watchdog); once it ends, cycles resume and a job submitted meanwhile is
admitted, within a generous bound. The connections frozen stay dead, as half-open ones do: only the timeouts get
the operator off them.

Short (default): one black hole of 30 s, timeouts of 1 s connect / 3 s read (kopf's requests 4 s in all), watchdog
3 periods of 2 s. Long
(FAIRSHARE_CHAOS_FULL=1, as for the other chaos tests): one black hole of 360 s (the issue's reproduction lasted
360 s) with the chart's default timeouts (5 s / 30 s, watches reopened after 70 s of silence) and watchdog (12
periods). Prints one `half-open report:` line of JSON per black hole (run with -s): time from its start to liveness
failing, and from its end to the next cycle, to the job's admission and to liveness passing again
(docs/reliability.md, "Bounded waits").
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.processes import free_port, tail
from tests.support.failover import election_env
from tests.support.operator import OperatorProcess
from tests.support.relay import Relay, relay_to
from tests.support.teams import Team, cycles, ensure_gpu_classes
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

FULL = os.environ.get("FAIRSHARE_CHAOS_FULL") == "1"
HOLES, HOLE_SECONDS = (1, 360.0) if FULL else (1, 30.0)
TIMEOUTS = {} if FULL else {"FAIRSHARE_API_CONNECT_TIMEOUT_SECONDS": "1", "FAIRSHARE_API_READ_TIMEOUT_SECONDS": "3",
                            "FAIRSHARE_WATCH_INACTIVITY_SECONDS": "10", "FAIRSHARE_KOPF_REQUEST_TIMEOUT_SECONDS": "4",
                            "FAIRSHARE_CYCLE_WATCHDOG_PERIODS": "3"}
PERIOD = 2.0  # OperatorProcess's --period
# Generous bounds, not timing assertions: the measured times go to the report and docs/reliability.md.
FAIL_WITHIN = 120.0 if FULL else 60.0
RECOVER_WITHIN = 240.0 if FULL else 120.0
ADMITTED = ("Admitted", "Running")


def relayed_kubeconfig(kubeconfig: str, relay: Relay, path: Path) -> str:
    """A copy of `kubeconfig` whose server is the relay (TLS passes through: the certificate names 127.0.0.1)."""
    config = yaml.safe_load(Path(kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def upstream_of(kubeconfig: str) -> tuple[str, int]:
    config = yaml.safe_load(Path(kubeconfig).read_text())
    server = urllib.parse.urlsplit(config["clusters"][0]["cluster"]["server"])
    return server.hostname or "127.0.0.1", server.port or 443


def healthz(port: int) -> int | None:
    """The status of kopf's /healthz: 200 healthy, 500 while a probe (the watchdog) fails; None if unreachable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@pytest.fixture
def relayed(local_cluster: ClusterState, tmp_path: Path) -> Iterator[tuple[Relay, str]]:
    with relay_to(upstream_of(local_cluster.kubeconfig)) as relay:
        yield relay, relayed_kubeconfig(local_cluster.kubeconfig, relay, tmp_path / "relayed.kubeconfig")


def test_the_operator_recovers_from_half_open_connections(
        kube_api_client: client.ApiClient, installed_crds: list[str], teams: list[Team],
        relayed: tuple[Relay, str], tmp_path: Path) -> None:
    relay, kubeconfig = relayed
    ensure_gpu_classes(kube_api_client)
    team = Team(kube_api_client, "half-open", {"weight": 1, "guaranteed": {"h100": 8}})
    teams.append(team)
    health_port = free_port()
    log = tmp_path / "operator.log"
    operator = OperatorProcess(kubeconfig, log, env={**election_env(f"fs-{uuid.uuid4().hex[:8]}", (8, 5, 1)),
                                                     **TIMEOUTS},
                               args=["--liveness-port", str(health_port)])
    operator.start()
    try:
        team.submit("before", gpus=1, classes=("h100",))
        wait_for(lambda: team.phases().get("before") in ADMITTED, timeout=120,
                 what=lambda: f"the first job admitted; log:\n{tail(log, 30)}")
        wait_for(lambda: healthz(health_port) == 200, timeout=30, what="/healthz 200 before the black hole")
        for hole in range(HOLES):
            report = black_hole(relay, team, operator, health_port, f"during-{hole}", log)
            print("half-open report: " + json.dumps(report))
        assert operator.alive(), f"the operator exited; log:\n{tail(log, 40)}"
    finally:
        operator.stop()
        print(f"--- operator log tail ---\n{tail(log, 60)}")


def black_hole(relay: Relay, team: Team, operator: OperatorProcess, health_port: int, job: str,
               log: Path) -> dict[str, float | int]:
    """One black hole of HOLE_SECONDS: a job submitted during it (straight to the API server, not through the
    relay); liveness must fail meanwhile; then cycles, the job's admission and liveness must come back."""
    relay.black_hole()
    started = time.monotonic()
    team.submit(job, gpus=1, classes=("h100",))
    wait_for(lambda: healthz(health_port) == 500, timeout=FAIL_WITHIN,
             what=lambda: f"/healthz failing during the black hole; log:\n{tail(log, 30)}", interval=0.5)
    failed_after = time.monotonic() - started
    while time.monotonic() - started < HOLE_SECONDS:
        assert not team.status(job), "the operator wrote a status through a black hole"
        time.sleep(1.0)
    assert healthz(health_port) == 500, "liveness passed again while the black hole lasted"
    before = cycles(operator.metrics_port) or 0.0
    relay.restore()
    ended = time.monotonic()
    wait_for(lambda: (cycles(operator.metrics_port) or 0.0) > before, timeout=RECOVER_WITHIN,
             what=lambda: f"a cycle after the black hole; log:\n{tail(log, 40)}", interval=0.2)
    cycled_after = time.monotonic() - ended
    wait_for(lambda: team.phases().get(job) in ADMITTED, timeout=RECOVER_WITHIN,
             what=lambda: f"{job} admitted after the black hole; log:\n{tail(log, 40)}", interval=0.2)
    admitted_after = time.monotonic() - ended
    wait_for(lambda: healthz(health_port) == 200, timeout=RECOVER_WITHIN, what="/healthz 200 again", interval=0.5)
    return {"hole_seconds": HOLE_SECONDS, "liveness_failed_after_s": round(failed_after, 2),
            "first_cycle_after_s": round(cycled_after, 2), "job_admitted_after_s": round(admitted_after, 2),
            "healthy_after_s": round(time.monotonic() - ended, 2), "connections_held": relay.held}
