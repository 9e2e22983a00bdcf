"""The manifests in examples/ parse, and every case in tests/data/invalid/ is refused by the models too.

The same invalid corpus is for the apiserver tests (kubectl apply against the real control plane): each
file opens with `# expect: <substring of the apiserver's error>` and `# field: <field path>`; a file with
two documents creates the first and expects the second, an update, to be refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from fairshare.api import SpecError, changed_immutable_fields, parse_gpu_class, parse_tenant, parse_training_job
from tests.unit.api.crd_schema import REPO_ROOT

INVALID_DIR = REPO_ROOT / "tests" / "data" / "invalid"
EXAMPLES_DIR = REPO_ROOT / "examples"
PARSERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "GPUClass": parse_gpu_class, "Tenant": parse_tenant, "TrainingJob": parse_training_job,
}


def invalid_cases() -> list[Any]:
    return [pytest.param(path, id=path.stem) for path in sorted(INVALID_DIR.glob("*.yaml"))]


def example_documents() -> list[Any]:
    return [pytest.param(doc, id=f"{path.stem}/{doc['metadata']['name']}")
            for path in sorted(EXAMPLES_DIR.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def header(text: str, key: str) -> str:
    match = re.search(rf"^# {key}: (.+)$", text, re.MULTILINE)
    assert match, f"missing '# {key}:' header"
    return match.group(1).strip()


def as_dotted(path: str) -> str:
    """`spec.guaranteed[a100]` -> `spec.guaranteed.a100`: the apiserver writes map keys with dots."""
    return re.sub(r"\[([^\]0-9][^\]]*)\]", r".\1", path)


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    kinds = [yaml.safe_load(path.read_text().split("\n---\n")[0])["kind"] for path in INVALID_DIR.glob("*.yaml")]
    assert len(kinds) >= 30
    assert set(kinds) == set(PARSERS)


@pytest.mark.parametrize("path", invalid_cases())
def test_models_refuse_each_invalid_manifest_at_its_field(path: Path) -> None:
    text = path.read_text()
    field = header(text, "field")
    assert header(text, "expect")
    docs = [doc for doc in yaml.safe_load_all(text) if doc]
    if len(docs) == 2:
        before, after = docs
        PARSERS[before["kind"]](before)  # the object as first created is valid
        assert changed_immutable_fields(before["spec"], after["spec"]) == [field]
        return
    (doc,) = docs
    with pytest.raises(SpecError) as raised:
        PARSERS[doc["kind"]](doc)
    paths = [as_dotted(found) for found, _ in raised.value.problems]
    assert any(found == field or found.startswith((field + ".", field + "[")) for found in paths), paths


@pytest.mark.parametrize("doc", example_documents())
def test_examples_parse(doc: dict[str, Any]) -> None:
    PARSERS[doc["kind"]](doc)


def test_examples_cover_every_kind_and_both_job_forms() -> None:
    docs = [doc.values[0] for doc in example_documents()]
    assert {doc["kind"] for doc in docs} == set(PARSERS)
    jobs = [parse_training_job(doc) for doc in docs if doc["kind"] == "TrainingJob"]
    assert {job.spec.uses_pod_template for job in jobs} == {True, False}
