"""build_headless_service: the DNS home of a job's workers."""

from __future__ import annotations

from fairshare.api import parse_training_job
from fairshare.render import RenderSettings, build_headless_service, master_addr
from tests.unit.api.builders import make_job


def test_headless_service() -> None:
    job = parse_training_job(make_job("bert", "nlp").uid("u-1").obj())
    assert build_headless_service(job) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "bert",
            "namespace": "nlp",
            "labels": {"app.kubernetes.io/managed-by": "fairshare-operator", "fairshare.dev/job": "bert"},
            "ownerReferences": [{"apiVersion": "fairshare.dev/v1alpha1", "kind": "TrainingJob", "name": "bert",
                                 "uid": "u-1", "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {"fairshare.dev/job": "bert"},
            "ports": [
                {"name": "master", "port": 29500, "targetPort": 29500, "protocol": "TCP"},
                {"name": "metrics", "port": 8000, "targetPort": 8000, "protocol": "TCP"},
            ],
        },
    }


def test_service_ports_follow_settings_and_master_addr_uses_it() -> None:
    job = parse_training_job(make_job("bert", "nlp").uid("u-1").obj())
    service = build_headless_service(job, RenderSettings(master_port=23456, metrics_port=9400))
    assert [port["port"] for port in service["spec"]["ports"]] == [23456, 9400]
    assert master_addr("bert", service["metadata"]["name"], "nlp") == "bert-worker-0.bert.nlp.svc"
