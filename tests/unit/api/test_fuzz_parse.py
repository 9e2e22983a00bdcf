"""Fuzzing the parsers: any JSON-like body gives a model or one SpecError that names a field, never another exception.

Two sources of input: random JSON-like dicts (shaped like a custom resource, or not at all), and mutations of the
valid manifests in examples/ (a key dropped, a value replaced by one of another type, a huge or negative number,
an unknown key, a very long or non-ASCII string). The operator parses every object it lists with these functions,
so an exception other than SpecError here would be an exception in its scheduling loop; the last tests follow
mutated objects (and pods a user may create) through a whole cycle, parse to plan, for the same reason.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fairshare.api import SpecError, parse_gpu_class, parse_tenant, parse_training_job
from tests.support.invariants import quantity
from tests.unit.api.crd_schema import REPO_ROOT
from tests.unit.control.builders import JobBuilder, gpu_class, node, pod, store_of, tenant, training_job, worker
from tests.unit.control.helpers import plan, rows
from tests.unit.core.helpers import examples

PARSERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "GPUClass": parse_gpu_class, "Tenant": parse_tenant, "TrainingJob": parse_training_job,
}
TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec", "status")
EXAMPLES = [doc for path in sorted((REPO_ROOT / "examples").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]

# Values people (and attackers) send where a number or a name belongs.
HOSTILE_SCALARS: tuple[Any, ...] = (
    None, True, False, 0, -1, 2**31, 2**63, -(2**63) - 1, 10**12, 10**400, 0.5, -0.0, 1e308, -1e308,
    math.inf, -math.inf, math.nan, "", " ", "0", "1e3", "-1", "true", "null", "a" * 5000, "ä100", "名前",
    "\x00", "../../etc/passwd", "fairshare.dev/tenant", "FAIRSHARE_JOB", "RANK", "/dev/shm", "Running",
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(HOSTILE_SCALARS))
JSON = st.recursive(JSON_SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=25)


def names_a_field(body: Mapping[str, Any], error: SpecError) -> None:
    """Every problem has a message and a camelCase path whose parent exists in the body (so it points somewhere)."""
    assert error.problems and error.problems[0] == (error.field_path, error.message)
    for path, message in error.problems:
        assert isinstance(path, str) and isinstance(message, str) and message.strip(), error.problems
        segments = split_path(path)
        assert segments and segments[0] in TOP_LEVEL, f"{path!r} does not start at a top-level field"
        here: Any = body
        for segment in segments[:-1]:
            assert isinstance(here, Mapping | list), f"{path!r}: parent of {segment!r} is not an object"
            here = here[int(segment)] if isinstance(here, list) else here[segment]


def split_path(path: str) -> list[str]:
    """`spec.env[2].name` -> [spec, env, 2, name]; `labels[fairshare.dev/x]` keeps the bracketed key whole, and
    `nodeSelector["]0"]` reads a JSON-quoted key (one holding a bracket or a quote)."""
    return [json.loads(quoted) if quoted else dotted or bracketed
            for quoted, dotted, bracketed in re.findall(r'\[("(?:[^"\\]|\\.)*")\]|([^.\[\]]+)|\[([^\]]*)\]', path)]


def parse_or_spec_error(kind: str, body: dict[str, Any]) -> None:
    """The property: a model, or a SpecError naming a field; the body itself is left as it was."""
    before = copy.deepcopy(body)
    try:
        PARSERS[kind](body)
    except SpecError as error:
        names_a_field(body, error)
    assert _same(body, before), "parsing must not modify the body (kopf hands in read-only views)"


def _same(a: Any, b: Any) -> bool:
    """Deep equality that counts NaN equal to NaN (the fuzzer sends NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@st.composite
def resource_like(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A dict with some of a custom resource's top-level keys (right kind or not) holding random JSON."""
    kind = draw(st.sampled_from(sorted(PARSERS)))
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["apiVersion"] = draw(st.sampled_from(["fairshare.dev/v1alpha1", "v1", ""]) | JSON)
    if draw(st.booleans()):
        body["kind"] = draw(st.sampled_from([*PARSERS, "Pod"]) | JSON)
    for key in ("metadata", "spec", "status"):
        if draw(st.booleans()):
            body[key] = draw(st.fixed_dictionaries({}, optional={"name": JSON, "namespace": JSON}) | JSON
                             if key == "metadata" else JSON)
    body.update(draw(st.dictionaries(st.text(max_size=12), JSON, max_size=2)))
    return kind, body


@examples(400)
@given(resource_like())
def test_random_bodies_parse_or_fail_with_a_spec_error(case: tuple[str, dict[str, Any]]) -> None:
    kind, body = case
    parse_or_spec_error(kind, body)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a document, the root included."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _mutate(rnd_value: Any, how: str, doc: Any, path: tuple[Any, ...]) -> Any:
    """Apply one mutation at `path` of `doc` (in place, except at the root, whose replacement is returned)."""
    if not path:
        return doc if how in ("drop", "unknown-key") else rnd_value
    parent, leaf = _get(doc, path[:-1]), path[-1]
    target = parent[leaf]
    if how == "drop":
        del parent[leaf]
    elif how == "replace":
        parent[leaf] = rnd_value
    elif how == "wrap":
        parent[leaf] = [target]
    elif how == "stringify":
        parent[leaf] = str(target)
    elif how == "unknown-key" and isinstance(target, dict):
        target["x-unknown" if not isinstance(rnd_value, str) or not rnd_value else rnd_value] = rnd_value
    elif how == "duplicate" and isinstance(target, list) and target:
        target.append(copy.deepcopy(target[0]))
    return doc


@st.composite
def mutated_examples(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid example manifest with one to three mutations; parsed as its own kind, or now and then another."""
    doc = copy.deepcopy(draw(st.sampled_from(EXAMPLES)))
    kind = doc["kind"]
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(doc, dict):
            break
        path = draw(st.sampled_from(_paths(doc)))
        how = draw(st.sampled_from(["drop", "replace", "replace", "wrap", "stringify", "unknown-key", "duplicate"]))
        value = draw(st.sampled_from(HOSTILE_SCALARS) | JSON)
        doc = _mutate(value, how, doc, path)
    if draw(st.integers(0, 9)) == 0:
        kind = draw(st.sampled_from(sorted(PARSERS)))
    return kind, doc


@examples(600)
@given(mutated_examples())
def test_mutated_examples_parse_or_fail_with_a_spec_error(case: tuple[str, Any]) -> None:
    kind, doc = case
    if isinstance(doc, dict):
        parse_or_spec_error(kind, doc)


@pytest.mark.parametrize("doc", [pytest.param(d, id=f"{d['kind']}/{d['metadata']['name']}") for d in EXAMPLES])
@pytest.mark.parametrize("value", [pytest.param(v, id=repr(v)[:24]) for v in HOSTILE_SCALARS])
def test_every_hostile_scalar_in_every_example_field(doc: dict[str, Any], value: Any) -> None:
    """Exhaustive where hypothesis samples: each hostile value put, in turn, at every location of every example."""
    for path in _paths(doc)[1:]:
        mutated = _mutate(value, "replace", copy.deepcopy(doc), path)
        parse_or_spec_error(doc["kind"], mutated)


@pytest.mark.parametrize("kind", sorted(PARSERS))
@pytest.mark.parametrize("body", [
    pytest.param({}, id="empty"),
    pytest.param({"apiVersion": "fairshare.dev/v1alpha1"}, id="only apiVersion"),
    pytest.param({"apiVersion": "fairshare.dev/v1alpha1", "kind": "TrainingJob", "metadata": None}, id="null metadata"),
    pytest.param({"apiVersion": "fairshare.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": 7}, "spec": {}},
                 id="numeric name"),
    pytest.param({"apiVersion": "fairshare.dev/v1alpha1", "kind": "GPUClass", "metadata": {"name": "a"},
                  "spec": {"nodeSelector": {"": ""}, "pricePerGPUHour": math.nan, "powerWatts": math.inf}},
                 id="NaN price, infinite power"),
])
def test_degenerate_bodies(kind: str, body: dict[str, Any]) -> None:
    parse_or_spec_error(kind, body)


# What a job's status can say, as the operator writes it: these are mutated too (a status writer other than the
# operator, or an older operator, may have left anything there).
WAITING = {"type": "Admitted", "status": "False", "reason": "Waiting", "message": "2 jobs ahead",
           "lastTransitionTime": "2025-06-15T15:06:40Z"}
STATUSES: dict[str, Callable[[JobBuilder], JobBuilder]] = {
    "none": lambda j: j,
    "queued": lambda j: j.phase("Queued").status(conditions=[dict(WAITING)], queue={"position": 3, "reason": "w"},
                                                 tenant="nlp"),
    "admitted": lambda j: j.phase("Admitted").allocation("a100", "a100-0"),
    "running": lambda j: j.phase("Running").allocation("a100", "a100-0", "a100-1").started(600)
    .cost(1.0, 0.5, 0.1, 60).status(conditions=[dict(WAITING, status="True", reason="Admitted")], restarts=1)
    .throughput("a100", 2, 100.0),
    "preempted": lambda j: j.phase("Preempted").allocation("h100", "h100-0"),
    "succeeded": lambda j: j.phase("Succeeded").cost(2.0, 1.0, 0.2, 60),
}


def _same_type_value(draw: st.DrawFn, current: Any) -> Any:
    """A hostile value of the same JSON type as `current`: what a status that passed the CRD's schema may hold."""
    if isinstance(current, bool):
        return not current
    if isinstance(current, int):
        return draw(st.sampled_from([0, -1, 2**31, 2**53, 10**12]))
    if isinstance(current, float):
        return draw(st.sampled_from([0.0, -1.0, 1e-300, 1e308]))
    if isinstance(current, str):
        return draw(st.sampled_from(["", "ä100", "a" * 5000, "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                                     "ghost", "a100", "Running", "Failed"]))
    if isinstance(current, list):
        return current[:draw(st.integers(0, len(current)))] + current[:draw(st.integers(0, 2))]
    return current


@st.composite
def mutated_stores(draw: st.DrawFn) -> Any:
    """The examples' classes, tenants and jobs (each job with a status and pods) on a small fleet, then one to four
    mutations: anything, of any type, under a spec (the models parse every spec); values of the same JSON type
    under a status (the CRD's schema types every status field, so nothing else reaches the operator)."""
    bodies: list[dict[str, Any]] = [node(f"{c}-{i}").gpu_class(c).gpus(8).body()
                                    for c in ("h100", "a100", "l4") for i in range(2)]
    for doc in EXAMPLES:
        body = copy.deepcopy(doc)
        if body["kind"] == "TrainingJob":
            status = draw(st.sampled_from(sorted(STATUSES)))
            built = STATUSES[status](JobBuilder(body)).body()
            built["metadata"]["uid"] = f"uid-{body['metadata']['name']}"
            bodies.append(built)
            key = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
            for rank, node_name in enumerate((built.get("status") or {}).get("allocation", {}).get("nodes", [])):
                bodies.append(worker(key, rank, node_name=node_name, gpus=body["spec"].get("gpusPerWorker", 1)).body())
        else:
            bodies.append(body)
    custom = [b for b in bodies if b["kind"] in PARSERS]  # Nodes and Pods are the apiserver's own, validated types
    for _ in range(draw(st.integers(1, 4))):
        body = draw(st.sampled_from(custom))
        paths = [p for p in _paths(body) if p[:1] in (("spec",), ("status",)) and len(p) > 1]
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        if path[0] == "spec":
            how = draw(st.sampled_from(["drop", "replace", "replace", "wrap", "stringify", "unknown-key", "duplicate"]))
            _mutate(draw(st.sampled_from(HOSTILE_SCALARS) | JSON), how, body, path)
        else:
            _mutate(_same_type_value(draw, _get(body, path)), "replace", body, path)
    return store_of(*bodies)


@examples(300)
@given(mutated_stores())
def test_a_cycle_over_mutated_objects_never_raises(store: Any) -> None:
    """The operator's path for every listed object: parse, snapshot, schedule, plan. A body it cannot use is
    reported (a problem, a Failed job), never an exception that would stop the scheduling loop."""
    result = plan(store)
    assert result.result is not None


# Objects the API server accepts but that a cycle has to survive. Pods are created by users too (a namespace's
# users can create any pod, with any labels), so nothing in a pod may stop the loop that schedules every tenant.
# (Each of the three tests below found a bug: int() of "1k", int() of a rank label, raw status.conditions.)
LABEL_VALUES = st.from_regex(r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?)?\Z")
# Quantities as the API server stores them: it canonicalises 1000 to "1k" and 2000000 to "2M".
GPU_QUANTITIES = st.sampled_from(["0", "1", "8", "16", "999", "1k", "2k", "1M", "1G"])


def _cluster(*extra: Any) -> list[Any]:
    """One a100 node of 8 GPUs, `bert` running on it (1 GPU), `next` waiting for 1 GPU, and `extra`."""
    return [gpu_class("a100"), tenant("nlp"), node("a100-0").gpu_class("a100").gpus(8),
            training_job("nlp/bert").phase("Running").allocation("a100", "a100-0", generation=1).started(60),
            worker("nlp/bert", 0, generation=1, node_name="a100-0"), training_job("nlp/next"), *extra]


def _admitted(result: Any) -> set[str]:
    return {r[1] for r in rows(result.actions) if r[0] == "patch" and r[2] == "Admitted"}


def _foreign_pod(name: str, gpus: str) -> dict[str, Any]:
    body = pod(f"other/{name}").on("a100-0").phase("Running").body()
    body["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": gpus},
                                                  "requests": {"nvidia.com/gpu": gpus}}
    return body


@examples(50)
@given(GPU_QUANTITIES)
def test_a_pod_of_any_user_asking_for_any_number_of_gpus_is_counted_and_never_stops_the_cycle(gpus: str) -> None:
    """Its GPUs are taken: `next` is admitted only if they leave one free beside `bert`'s."""
    result = plan(_cluster(_foreign_pod("gpu-hog", gpus)))
    assert ("nlp/next" in _admitted(result)) == (quantity(gpus) + 1 + 1 <= 8)


@examples(50)
@given(LABEL_VALUES, st.sampled_from(["1", "0", "2"]) | LABEL_VALUES)
def test_a_user_pod_with_any_operator_labels_never_stops_the_cycle(rank: str, generation: str) -> None:
    """`bert` runs at generation 1; an impostor pod in its namespace claims to be one of its workers."""
    impostor = pod("nlp/impostor").job("bert").body()
    impostor["metadata"]["labels"].update({"fairshare.dev/rank": rank, "fairshare.dev/generation": generation})
    assert "nlp/next" in _admitted(plan(_cluster(impostor)))


@pytest.mark.parametrize("conditions", ["x", [1], True], ids=["string", "list of numbers", "boolean"])
def test_a_status_that_breaks_the_crd_schema_fails_only_its_own_job(conditions: Any) -> None:
    """Possible only if the CRD's status schema is bypassed: the job fails (InvalidSpec), the others go on."""
    broken = training_job("nlp/broken").phase("Queued").status(conditions=conditions)
    result = plan(_cluster(broken))
    assert ("patch", "nlp/broken", "Failed", None) in rows(result.actions)
    assert "nlp/next" in _admitted(result)


def test_a_map_key_holding_a_bracket_is_json_quoted_in_the_path() -> None:
    """Found by the fuzzer: `spec.nodeSelector[]0]` named no field a client could find again."""
    body = {"apiVersion": "fairshare.dev/v1alpha1", "kind": "GPUClass", "metadata": {"name": "h100"},
            "spec": {"nodeSelector": {"]0": "x"}, "pricePerGPUHour": 4.0, "powerWatts": 700}}
    with pytest.raises(SpecError) as raised:
        PARSERS["GPUClass"](body)
    assert raised.value.field_path == 'spec.nodeSelector["]0"]'
    parse_or_spec_error("GPUClass", body)
