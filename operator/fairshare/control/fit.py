"""Whether one worker's CPU, memory and scratch requests fit some node of the GPU classes a job accepts.

The core places workers by GPUs alone; a worker asking for more memory than any node of its class has would be
admitted, pinned to a node and left Unschedulable by kube-scheduler, holding its GPUs. This module narrows a job
to the classes that have a node big enough, or says why none has.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fairshare.api.podtemplate import ResourceList
from fairshare.api.quantity import QuantityError, parse_quantity
from fairshare.api.trainingjob import TrainingJobSpec

CHECKED_RESOURCES = ("cpu", "memory", "ephemeral-storage")
NodeResources = dict[str, tuple[Decimal, str]]  # resource -> (allocatable, as the node writes it)


@dataclasses.dataclass(frozen=True)
class Request:
    """One resource a worker requests: the spec field that sets it, as written, and its value."""

    field: str
    raw: str
    value: Decimal


def worker_requests(spec: TrainingJobSpec) -> dict[str, Request]:
    """What kube-scheduler reserves for each worker, by resource (a limit without a request is the request)."""
    if spec.pod_template is not None:
        resources = spec.pod_template.spec.containers[0].resources
        prefix = "spec.podTemplate.spec.containers[0].resources"
        requests = _listed(resources.requests if resources else None, f"{prefix}.requests")
        limits = _listed(resources.limits if resources else None, f"{prefix}.limits")
        return {**limits, **requests}
    if spec.resources is None:
        return {}
    listed = {"cpu": spec.resources.cpu, "memory": spec.resources.memory}
    return {name: _request(f"spec.resources.{name}", raw) for name, raw in listed.items() if raw is not None}


def _listed(resources: ResourceList | None, prefix: str) -> dict[str, Request]:
    if resources is None:
        return {}
    body = resources.to_body()
    return {name: _request(f"{prefix}.{name}", body[name]) for name in CHECKED_RESOURCES if name in body}


def _request(field: str, raw: object) -> Request:
    """The models accept only quantities this parser reads; should one still fail, the error names the field."""
    try:
        return Request(field, str(raw), parse_quantity(raw))
    except QuantityError as err:
        raise QuantityError(f"{field}: {err}") from None


def node_allocatable(node: Mapping[str, Any]) -> NodeResources:
    """The checked resources a node reports as allocatable: (value, as written). A resource it does not report is
    not compared (kwok and test nodes often leave ephemeral-storage out); one it reports in a form that is not a
    quantity raises QuantityError naming it (the node is then set aside: nothing can be placed by a guess)."""
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    out: NodeResources = {}
    for name in CHECKED_RESOURCES:
        if name in allocatable:
            try:
                out[name] = (parse_quantity(allocatable[name]), str(allocatable[name]))
            except QuantityError as err:
                raise QuantityError(f"status.allocatable[{name}]: {err}") from None
    return out


def _holds(node: NodeResources, requests: Mapping[str, Request]) -> bool:
    return all(name not in node or node[name][0] >= request.value for name, request in requests.items())


@dataclasses.dataclass(frozen=True)
class Fit:
    """The classes a job may use given its workers' requests (None: no narrowing needed), or why none will do."""

    classes: tuple[str, ...] | None = None
    problem: str | None = None


def fit_classes(spec: TrainingJobSpec, class_nodes: Mapping[str, Sequence[NodeResources]]) -> Fit:
    """Rule: a job may run only on classes with a node that holds one whole worker (CPU, memory and scratch, as
    allocatable). Classes without nodes are left to the core, which explains them."""
    requests = worker_requests(spec)
    accepted = list(spec.gpu_classes) or sorted(class_nodes)
    candidates = [c for c in accepted if class_nodes.get(c)]
    if not requests or not candidates:
        return Fit()
    fitting = tuple(c for c in candidates if any(_holds(n, requests) for n in class_nodes[c]))
    if len(fitting) == len(candidates):
        return Fit()
    if fitting:
        return Fit(classes=fitting)
    return Fit(problem=_why_nothing_fits(requests, [n for c in candidates for n in class_nodes[c]], candidates))


def _why_nothing_fits(requests: Mapping[str, Request], nodes: Sequence[NodeResources],
                      classes: Sequence[str]) -> str:
    where = f"{'class' if len(classes) == 1 else 'classes'} {', '.join(classes)}"
    too_big = []
    for name, request in requests.items():
        reported = [n[name] for n in nodes if name in n]
        largest = max(reported, default=None)
        if largest is not None and request.value > largest[0]:
            too_big.append(f"{request.field} {request.raw} exceeds the largest node allocatable {name} "
                           f"({largest[1]})")
    detail = "; ".join(too_big) or ("no single node has room for all of " +
                                    ", ".join(f"{r.field} {r.raw}" for r in requests.values()))
    first = next(iter(requests.values())).field.rsplit(".", 1)[0]
    return (f"no node of {where} can hold one worker: {detail}; lower {first}, or list a class with bigger nodes "
            f"in spec.gpuClasses")
