"""build_headless_service: the Service that gives each worker pod a DNS name, so torchrun finds rank 0."""

from __future__ import annotations

from typing import Any

from fairshare.api.constants import LABEL_MANAGED_BY, MANAGED_BY
from fairshare.api.trainingjob import TrainingJob
from fairshare.render.container import MASTER_PORT_NAME, METRICS_PORT_NAME
from fairshare.render.names import job_namespace, job_selector, owner_reference, service_name
from fairshare.render.settings import DEFAULT_SETTINGS, RenderSettings


def build_headless_service(job: TrainingJob, settings: RenderSettings = DEFAULT_SETTINGS) -> dict[str, Any]:
    """A headless Service selecting the job's pods; `<pod>.<job>.<ns>.svc` resolves to each worker.

    publishNotReadyAddresses, because workers resolve the master while it is still starting (torchrun's
    rendezvous is how they become ready at all). Its metrics port lets a ServiceMonitor scrape the trainers.
    """
    name = job.metadata.name
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(name),
            "namespace": job_namespace(job),
            "labels": {LABEL_MANAGED_BY: MANAGED_BY, **job_selector(name)},
            "ownerReferences": [owner_reference(job)],
        },
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": job_selector(name),
            "ports": [
                {"name": MASTER_PORT_NAME, "port": settings.master_port, "targetPort": settings.master_port,
                 "protocol": "TCP"},
                {"name": METRICS_PORT_NAME, "port": settings.metrics_port, "targetPort": settings.metrics_port,
                 "protocol": "TCP"},
            ],
        },
    }
