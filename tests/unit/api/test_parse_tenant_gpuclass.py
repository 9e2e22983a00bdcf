"""Tenant and GPUClass bodies in, models or one SpecError naming the field out."""

from __future__ import annotations

from typing import Any

import pytest

from fairshare.api import SpecError, parse_gpu_class, parse_tenant
from tests.unit.api.builders import make_gpu_class, make_tenant


@pytest.mark.parametrize(
    ("body", "check"),
    [
        pytest.param(make_tenant().obj(), lambda t: (t.spec.weight, t.spec.guaranteed, t.spec.budget)
                     == (1.0, {}, None), id="defaults match the CRD"),
        pytest.param(make_tenant().budget(1000).obj(), lambda t: t.spec.budget.period_hours == 720,
                     id="budget period defaults to 30 days"),
        pytest.param(make_tenant().guaranteed(a100=8, l4=0).borrowing(a100=16).obj(),
                     lambda t: (t.spec.borrowing_limit_for("a100"), t.spec.borrowing_limit_for("l4")) == (16, None),
                     id="unlisted class has no borrowing limit"),
        pytest.param(make_tenant().obj(), lambda t: t.spec.borrowing_limit_for("a100") is None,
                     id="no borrowingLimit means no limit"),
        pytest.param(make_tenant().namespaces("nlp", "nlp-dev").set("weight", 2.5).obj(),
                     lambda t: t.spec.namespaces == ["nlp", "nlp-dev"] and t.spec.weight == 2.5, id="two namespaces"),
    ],
)
def test_valid_tenants_parse(body: dict[str, Any], check: Any) -> None:
    assert check(parse_tenant(body))


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        pytest.param(make_tenant().namespaces().obj(), "spec.namespaces", "at least 1", id="no namespaces"),
        pytest.param(make_tenant().namespaces("a", "a").obj(), "spec.namespaces[1]", "listed twice",
                     id="namespace twice"),
        pytest.param(make_tenant().namespaces("Team_A").obj(), "spec.namespaces[0]", "DNS-1123 label",
                     id="namespace not a label"),
        pytest.param(make_tenant().set("weight", 0).obj(), "spec.weight", "greater than 0", id="zero weight"),
        pytest.param(make_tenant().guaranteed(a100=-1).obj(), "spec.guaranteed[a100]", "greater than or equal to 0",
                     id="negative guarantee"),
        pytest.param(make_tenant().set("guaranteed", {"A100 GPUs": 4}).obj(), "spec.guaranteed[A100 GPUs]",
                     "DNS-1123 label", id="guarantee key not a class name"),
        pytest.param(make_tenant().borrowing(l4=-2).obj(), "spec.borrowingLimit[l4]", "greater than or equal to 0",
                     id="negative borrowing limit"),
        pytest.param(make_tenant().budget(0).obj(), "spec.budget.creditsPerPeriod", "greater than 0",
                     id="zero credits"),
        pytest.param(make_tenant().budget(10, hours=0).obj(), "spec.budget.periodHours", "greater than or equal to 1",
                     id="zero-hour period"),
        pytest.param(make_tenant().set("budget", {"periodHours": 24}).obj(), "spec.budget.creditsPerPeriod",
                     "required", id="budget without credits"),
        pytest.param(make_tenant().set("quota", 4).obj(), "spec.quota", "unknown field", id="unknown field"),
        pytest.param(make_gpu_class().obj(), "kind", "expected fairshare.dev/v1alpha1 Tenant", id="a GPUClass body"),
        pytest.param(make_tenant("team.nlp").namespaces("nlp").obj(), "metadata.name", "DNS-1123 label",
                     id="name not a label"),
        pytest.param(make_tenant().namespaces("nlp", "kube-system").obj(), "spec.namespaces[1]",
                     "Kubernetes system namespaces and cannot belong to a Tenant", id="kube-system"),
        pytest.param(make_tenant().namespaces("kube-anything").obj(), "spec.namespaces[0]",
                     "remove kube-anything from spec.namespaces", id="any kube- namespace"),
    ],
)
def test_invalid_tenants_name_the_field(body: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_tenant(body)
    assert (raised.value.field_path, words in raised.value.message) == (field, True), raised.value.message


@pytest.mark.parametrize(
    ("body", "check"),
    [
        pytest.param(make_gpu_class().obj(), lambda g: g.spec.relative_speed is None, id="no speed prior"),
        pytest.param(make_gpu_class().set("relativeSpeed", 2).obj(), lambda g: g.spec.relative_speed == 2.0,
                     id="speed prior"),
        pytest.param(make_gpu_class().set("nodeSelector", {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}).obj(),
                     lambda g: g.spec.price_per_gpu_hour == 2.5, id="GPU feature discovery label"),
        pytest.param(make_gpu_class().obj(), lambda g: g.spec.tolerations == [], id="no tolerations"),
        pytest.param(make_gpu_class().set("tolerations", [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "gpu"},
            {"operator": "Exists"},
            {"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 600}]).obj(),
                     lambda g: [t.to_body() for t in g.spec.tolerations] == [
                         {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                         {"key": "dedicated", "value": "gpu"},
                         {"operator": "Exists"},
                         {"key": "maintenance", "operator": "Exists", "effect": "NoExecute",
                          "tolerationSeconds": 600}],
                     id="tolerations as in a Pod"),
    ],
)
def test_valid_gpu_classes_parse(body: dict[str, Any], check: Any) -> None:
    assert check(parse_gpu_class(body))


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        pytest.param(make_gpu_class().price(0).obj(), "spec.pricePerGPUHour", "greater than 0", id="free class"),
        pytest.param(make_gpu_class().price(-1).obj(), "spec.pricePerGPUHour", "greater than 0", id="negative price"),
        pytest.param(make_gpu_class().power(0).obj(), "spec.powerWatts", "greater than 0", id="zero power"),
        pytest.param(make_gpu_class().set("relativeSpeed", 0).obj(), "spec.relativeSpeed", "greater than 0",
                     id="zero speed"),
        pytest.param(make_gpu_class().set("nodeSelector", {}).obj(), "spec.nodeSelector", "at least 1",
                     id="selects every node"),
        pytest.param(make_gpu_class().set("nodeSelector", None).obj(), "spec.nodeSelector", "required",
                     id="no node selector"),
        pytest.param(make_gpu_class().set("nodeSelector", {"gpu": "A100 80GB"}).obj(), "spec.nodeSelector[gpu]",
                     "label value", id="selector value with a space"),
        pytest.param(make_gpu_class().set("nodeSelector", {"-gpu": "a100"}).obj(), "spec.nodeSelector[-gpu]",
                     "label key", id="selector key starting with a dash"),
        pytest.param(make_gpu_class().set("pricePerGpuHour", 1).obj(), "spec.pricePerGpuHour", "unknown field",
                     id="misspelt acronym"),
        pytest.param(make_gpu_class("a100.sxm").obj(), "metadata.name", "DNS-1123 label", id="name not a label"),
        pytest.param(make_gpu_class().set("tolerations", [{"key": "a", "operator": "Exists", "value": "b"}]).obj(),
                     "spec.tolerations[0].value", "remove value or use operator Equal", id="Exists with a value"),
        pytest.param(make_gpu_class().set("tolerations", [{"value": "b"}]).obj(), "spec.tolerations[0].operator",
                     "needs operator Exists", id="no key, not Exists"),
        pytest.param(make_gpu_class().set("tolerations", [{"key": "a", "tolerationSeconds": 5}]).obj(),
                     "spec.tolerations[0].tolerationSeconds", "only applies to effect NoExecute",
                     id="eviction delay on a non-evicting taint"),
        pytest.param(make_gpu_class().set("tolerations", [{"key": "a", "operator": "In"}]).obj(),
                     "spec.tolerations[0].operator", "'Exists' or 'Equal'", id="unknown operator"),
        pytest.param(make_gpu_class().set("tolerations", [{"operator": "Exists"}] * 17).obj(), "spec.tolerations",
                     "at most 16", id="too many"),
    ],
)
def test_invalid_gpu_classes_name_the_field(body: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_gpu_class(body)
    assert (raised.value.field_path, words in raised.value.message) == (field, True), raised.value.message
