"""The CRDs on a real apiserver: they establish, teach `kubectl explain`, accept the examples, refuse bad input."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, Kubectl

pytestmark = pytest.mark.integration

INVALID_CASES = sorted((REPO_ROOT / "tests" / "data" / "invalid").glob("*.yaml"))
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.yaml"))


def _documents_in(path: Path) -> list[dict[str, Any]]:
    """The file's objects, namespace removed: a test applies them into its own namespace."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in docs:
        doc["metadata"].pop("namespace", None)
    return docs


def test_crds_establish_with_short_names_and_category(kubectl: Kubectl, installed_crds: list[str]) -> None:
    assert len(installed_crds) == 3
    resources = kubectl("api-resources", "--api-group=fairshare.dev", "-o", "wide").stdout
    for kind, short in (("GPUClass", "gc"), ("Tenant", "tn"), ("TrainingJob", "tj")):
        row = next(line for line in resources.splitlines() if f" {kind} " in f" {line} ")
        assert short in row.split(), row
        assert "fairshare" in row
    # The category resolves (kubectl fails on an unknown resource type) and lists fairshare objects only; other
    # tests of the session may have created some by now.
    names = kubectl("get", "fairshare", "-A", "-o", "name").stdout.split()
    assert all(n.split("/")[0] in ("gpuclass.fairshare.dev", "tenant.fairshare.dev", "trainingjob.fairshare.dev")
               for n in names), names


def test_kubectl_explain_teaches_the_api(kubectl: Kubectl, installed_crds: list[str]) -> None:
    explained = kubectl("explain", "trainingjob.spec.workers").stdout
    assert "min" in explained and "max" in explained
    assert len(explained) > 200, "every field carries a description"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_are_accepted(kubectl: Kubectl, installed_crds: list[str], namespace: str, example: Path) -> None:
    docs = _documents_in(example)
    kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(docs))


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda p: p.stem)
def test_invalid_manifest_is_refused_naming_the_field(kubectl: Kubectl, installed_crds: list[str], namespace: str,
                                                      case: Path) -> None:
    text = case.read_text()
    expect = re.search(r"^# expect: (.*)$", text, re.M)
    field = re.search(r"^# field: (.*)$", text, re.M)
    assert expect and field, f"{case.name} needs '# expect:' and '# field:' headers"
    docs = _documents_in(case)
    cluster_scoped = docs[0]["kind"] in ("GPUClass", "Tenant")
    scope = [] if cluster_scoped else ["-n", namespace]
    try:
        for setup in docs[:-1]:  # an update case: the first document is valid and must be accepted
            kubectl("apply", *scope, "-f", "-", stdin=yaml.safe_dump(setup))
        verb = "apply" if len(docs) > 1 else "create"
        refused = kubectl(verb, *scope, "-f", "-", stdin=yaml.safe_dump(docs[-1]), check=False)

        assert refused.returncode != 0, f"{case.name} was accepted: {refused.stdout}"
        assert expect.group(1) in refused.stderr
        assert field.group(1) in refused.stderr
    finally:
        if cluster_scoped:
            kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", stdin=yaml.safe_dump(docs[0]),
                    check=False)
