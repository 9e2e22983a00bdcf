"""Elastic TrainingJobs on the real control plane: a job of `workers.min` < `workers.max` grows into GPUs that free
up, and shrinks (rather than being preempted) when a tenant reclaims its guarantee. Each size change is a restart
at a new generation: the old gang's pods go, a full new gang of the new size comes, never a mix."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.support.invariants import LABEL_GENERATION
from tests.support.operator import OperatorProcess
from tests.support.teams import GROUP, LABEL_JOB, VERSION, Team, describe, job_body
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

L4_GPUS = 32  # the default fleet: 8 l4 nodes of 4 GPUs


def workers(team: Team, job: str) -> int | None:
    """Workers of the job's current allocation while it is Running, else None."""
    status = team.status(job)
    return (status.get("allocation") or {}).get("workers") if status.get("phase") == "Running" else None


def gang(team: Team, job: str) -> tuple[set[str], list[str]]:
    """(generations, ranks) of the job's live pods."""
    pods = [p for p in team.pods() if p.metadata.labels.get(LABEL_JOB) == job and not p.metadata.deletion_timestamp
            and p.status.phase in ("Pending", "Running")]
    return ({p.metadata.labels.get(LABEL_GENERATION) for p in pods},
            sorted(p.metadata.labels.get("fairshare.dev/rank", "") for p in pods))


def events(api: client.ApiClient, team: Team, job: str) -> list[str]:
    return [e.reason for e in client.CoreV1Api(api).list_namespaced_event(team.namespace).items
            if e.involved_object.name == job]


def submit_elastic(team: Team, name: str, minimum: int, maximum: int) -> None:
    """A job of `minimum` to `maximum` workers of 4 l4 GPUs (one whole node each)."""
    body = job_body(name, gpus=4, classes=("l4",))
    body["spec"]["workers"] = {"min": minimum, "max": maximum}
    team.custom.create_namespaced_custom_object(GROUP, VERSION, team.namespace, "trainingjobs", body)


def test_an_elastic_job_grows_into_gpus_that_free_up(kube_api_client: client.ApiClient, operator: OperatorProcess,
                                                     teams: list[Team]) -> None:
    blocker, grower = Team(kube_api_client, "blk", {"weight": 1}), Team(kube_api_client, "grow", {"weight": 1})
    teams += [blocker, grower]
    blocker.submit("wall", gpus=4, workers=7, classes=("l4",))
    wait_for(lambda: workers(blocker, "wall") == 7 or None, timeout=90, what=lambda: describe(blocker))
    submit_elastic(grower, "elastic", 1, 4)
    wait_for(lambda: workers(grower, "elastic") == 1 or None, timeout=90, what=lambda: describe(grower))

    blocker.custom.delete_namespaced_custom_object(GROUP, VERSION, blocker.namespace, "trainingjobs", "wall")
    wait_for(lambda: workers(grower, "elastic") == 4 or None, timeout=120, what=lambda: describe(grower))
    wait_for(lambda: gang(grower, "elastic")[1] == ["0", "1", "2", "3"] or None, timeout=60,
             what=lambda: f"four ranks of one generation; live pods {gang(grower, 'elastic')}")
    generations, _ = gang(grower, "elastic")
    assert len(generations) == 1 and generations != {"1"}, f"a new gang at a new generation: {generations}"
    assert "Resized" in events(kube_api_client, grower, "elastic")
    status = grower.status("elastic")
    assert status["allocation"]["gpus"] == 16 and status.get("restarts", 0) == 0, status


def test_an_elastic_job_shrinks_before_anyone_is_preempted_when_a_guarantee_is_reclaimed(
        kube_api_client: client.ApiClient, operator: OperatorProcess, teams: list[Team]) -> None:
    grower = Team(kube_api_client, "wide", {"weight": 1})
    owner = Team(kube_api_client, "owner", {"guaranteed": {"l4": 16}})
    teams += [grower, owner]
    submit_elastic(grower, "elastic", 2, 8)
    wait_for(lambda: workers(grower, "elastic") == 8 or None, timeout=120,
             what=lambda: f"all {L4_GPUS} l4 GPUs to the elastic job; {describe(grower)}")

    owner.submit("reclaim", gpus=4, workers=4, classes=("l4",))
    wait_for(lambda: workers(owner, "reclaim") == 4 or None, timeout=120,
             what=lambda: f"{describe(owner)}; {describe(grower)}")
    wait_for(lambda: workers(grower, "elastic") == 4 or None, timeout=120, what=lambda: describe(grower))
    status = grower.status("elastic")
    assert status["phase"] == "Running" and status["allocation"]["gpus"] == 16, status
    reasons = events(kube_api_client, grower, "elastic")
    assert "Resized" in reasons and "Preempted" not in reasons, reasons
    wait_for(lambda: gang(grower, "elastic")[1] == ["0", "1", "2", "3"] or None, timeout=60,
             what=lambda: f"four ranks left; live pods {gang(grower, 'elastic')}")
