"""The CRDs are structural apiextensions/v1 schemas that teach the API and carry every rule we claim."""

from __future__ import annotations

import re

import pytest

from fairshare.api import constants
from fairshare.api.trainingjob import IMMUTABLE_SPEC_FIELDS
from tests.unit.api.crd_schema import CRD_FILES, load_crd, node_at, root_schema, validations, walk

KINDS = sorted(CRD_FILES)
CEL_REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}


@pytest.mark.parametrize(
    ("kind", "plural", "short", "scope"),
    [
        pytest.param("GPUClass", constants.PLURAL_GPU_CLASSES, constants.SHORT_NAME_GPU_CLASS, "Cluster",
                     id="GPUClass"),
        pytest.param("Tenant", constants.PLURAL_TENANTS, constants.SHORT_NAME_TENANT, "Cluster", id="Tenant"),
        pytest.param("TrainingJob", constants.PLURAL_TRAINING_JOBS, constants.SHORT_NAME_TRAINING_JOB, "Namespaced",
                     id="TrainingJob"),
    ],
)
def test_crd_identity(kind: str, plural: str, short: str, scope: str) -> None:
    crd = load_crd(kind)
    assert (crd["apiVersion"], crd["kind"]) == ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert crd["metadata"]["name"] == f"{plural}.{constants.GROUP}"
    assert CRD_FILES[kind].name == f"{plural}.{constants.GROUP}.yaml"
    spec = crd["spec"]
    assert (spec["group"], spec["scope"], spec["names"]["kind"], spec["names"]["plural"]) == (
        constants.GROUP, scope, kind, plural)
    assert spec["names"]["shortNames"] == [short]
    assert spec["names"]["categories"] == [constants.CATEGORY]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == (constants.VERSION, True, True)
    assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_has_a_type_and_a_description(kind: str) -> None:
    missing = []
    for path, node in walk(root_schema(kind)):
        # apiextensions refuses anything but name/generateName restrictions under metadata, descriptions included.
        if path == ".metadata":
            continue
        if "type" not in node and not node.get("x-kubernetes-int-or-string"):
            missing.append(f"{path}: type")
        if not node.get("description"):
            missing.append(f"{path}: description")
    assert not missing, missing


@pytest.mark.parametrize("kind", KINDS)
def test_no_field_preserves_unknown_fields(kind: str) -> None:
    """kopf writes no status keys when handlers return None, so every level stays structural and pruned."""
    nodes = [("", root_schema(kind)), *walk(root_schema(kind))]
    assert [path for path, node in nodes if node.get("x-kubernetes-preserve-unknown-fields")] == []


@pytest.mark.parametrize("kind", KINDS)
def test_spec_arrays_and_strings_are_bounded(kind: str) -> None:
    """CEL cost estimates need bounds; the apiserver refuses the CRD without them."""
    unbounded = []
    for path, node in walk(root_schema(kind)):
        if not path.startswith((".spec", ".metadata")):
            continue
        if node.get("type") == "array" and "maxItems" not in node:
            unbounded.append(path)
        if node.get("type") == "string" and "maxLength" not in node and "enum" not in node:
            unbounded.append(path)
        if node.get("type") == "object" and "additionalProperties" in node and "maxProperties" not in node:
            unbounded.append(path)
    assert unbounded == []


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        pytest.param("GPUClass", ["Capacity", "Allocated", "Foreign", "Idle", "Price", "Age"], id="GPUClass"),
        pytest.param("Tenant", ["Weight", "Allocated", "Share", "Spend", "Age"], id="Tenant"),
        pytest.param("TrainingJob", ["Tenant", "Phase", "Class", "GPUs", "Workers", "Price", "Throughput", "Restarts",
                                     "Failure", "Position", "Reason", "Progress", "Age", "Cost", "Min-Workers",
                                     "Max-Workers", "GPUs/Worker", "Classes", "Bid", "Waiting-Since", "Created",
                                     "Namespace", "ETA", "Message"],
                     id="TrainingJob"),
    ],
)
def test_printer_columns_point_at_fields_of_their_type(kind: str, columns: list[str]) -> None:
    (version,) = load_crd(kind)["spec"]["versions"]
    printed = version["additionalPrinterColumns"]
    assert [column["name"] for column in printed] == columns
    for column in printed:
        if column["jsonPath"] in METADATA_COLUMNS:
            assert (column["type"], column.get("format")) in METADATA_COLUMNS[column["jsonPath"]], column
            continue
        # `.status.conditions[?(@.type=="Admitted")].status`: a field of the list's items
        node = node_at(kind, re.sub(r"\[\?\(.*?\)\]", "[]", column["jsonPath"]).lstrip("."))
        assert node is not None, column
        # a list prints as JSON in a string column (the API server's Table)
        assert node["type"] == column["type"] or (node["type"], column["type"]) == ("array", "string"), column


METADATA_COLUMNS = {  # metadata has no schema in a CRD
    ".metadata.creationTimestamp": {("date", None), ("string", "date-time")},
    ".metadata.namespace": {("string", None)},
}


def test_the_queue_views_columns_are_printed() -> None:
    """`fairshare queue` reads the Table of these columns instead of the objects (fairshare.client.jobtable)."""
    from fairshare.client.jobtable import QUEUE_COLUMNS

    (version,) = load_crd("TrainingJob")["spec"]["versions"]
    printed = {column["name"]: column["jsonPath"] for column in version["additionalPrinterColumns"]}
    for name, where in QUEUE_COLUMNS.items():
        if name == "Name":
            continue
        path = where if where[1] != "conditions" else (*where[:2], f'[?(@.type=="{where[2]}")]', where[3])
        assert printed[name] == "." + ".".join(path).replace(".[", "["), name


def test_phase_and_tenant_are_selectable() -> None:
    (version,) = load_crd("TrainingJob")["spec"]["versions"]
    assert version["selectableFields"] == [{"jsonPath": ".status.phase"}, {"jsonPath": ".status.tenant"}]


# Each rule the API reference promises, found by the schema node it sits on and a piece of its text.
CLAIMED_RULES = [
    ("GPUClass", "", "self.metadata.name.size() <= 63"),
    ("GPUClass", ".spec.nodeSelector", "k.matches("),
    ("GPUClass", ".spec.nodeSelector", "self[k].matches("),
    ("GPUClass", ".spec.tolerations[]", "self.operator == 'Exists' && has(self.value)"),
    ("GPUClass", ".spec.tolerations[]", "has(self.key) || (has(self.operator) && self.operator == 'Exists')"),
    ("GPUClass", ".spec.tolerations[]", "!has(self.tolerationSeconds) || (has(self.effect)"),
    ("Tenant", ".spec.namespaces[]", "!self.startsWith('kube-')"),
    ("Tenant", "", "self.metadata.name.size() <= 63"),
    ("Tenant", ".spec.guaranteed", "self.all(k, k.size() <= 63"),
    ("Tenant", ".spec.borrowingLimit", "self.all(k, k.size() <= 63"),
    ("TrainingJob", "", f"self.metadata.name.size() <= {constants.MAX_JOB_NAME_LENGTH}"),
    ("TrainingJob", ".spec", "has(self.image) || has(self.podTemplate)"),
    ("TrainingJob", ".spec", "!has(self.podTemplate) || !(has(self.image)"),
    ("TrainingJob", ".spec", "has(self.checkpoint.claimName)"),
    ("TrainingJob", ".spec", "m.mountPath != self.checkpoint.path"),
    ("TrainingJob", ".spec.workers", "self.min <= self.max"),
    ("TrainingJob", ".spec.resources.memory", "!quantity(string(self)).isLessThan(quantity('0'))"),
    ("TrainingJob", ".spec.resources.cpu", "!quantity(string(self)).isLessThan(quantity('0'))"),
    ("TrainingJob", ".spec.podTemplate.spec.containers[].resources.requests.ephemeral-storage",
     "!quantity(string(self)).isLessThan(quantity('0'))"),
    ("TrainingJob", ".spec.env[]", "!self.name.startsWith('FAIRSHARE_')"),
    ("TrainingJob", ".spec.env[]", "!(has(self.value) && has(self.valueFrom))"),
    ("TrainingJob", ".spec.env[].valueFrom", "has(self.secretKeyRef) != has(self.configMapKeyRef)"),
    ("TrainingJob", ".spec.podTemplate.spec.containers[].env[]", "!self.name.startsWith('FAIRSHARE_')"),
    ("TrainingJob", ".spec.podTemplate.metadata.labels", "!k.startsWith('fairshare.dev/')"),
    ("TrainingJob", ".spec.podTemplate.spec", "self.volumes.exists(v, v.name == m.name)"),
    ("TrainingJob", ".spec.podTemplate.spec.volumes[]", ".filter(x, x).size() == 1"),
    ("TrainingJob", ".spec.podTemplate.spec.volumes[].name", "!self.startsWith('fairshare-')"),
    ("TrainingJob", ".spec.podTemplate.spec.containers[].volumeMounts[].mountPath", "'/tmp', '/dev/shm'"),
    ("TrainingJob", ".spec.podTemplate.spec.containers[].volumeMounts[].mountPath", "self.startsWith('/proc')"),
    ("TrainingJob", ".spec.checkpoint", "!has(self.subPath) || has(self.claimName)"),
    ("TrainingJob", ".spec.checkpoint.path", "'/tmp', '/dev/shm'"),
    ("TrainingJob", ".spec.checkpoint.path", "!self.matches('(^|/)"),
]


@pytest.mark.parametrize(("kind", "path", "text"), [pytest.param(*rule, id=f"{rule[0]}{rule[1]}: {rule[2]}")
                                                    for rule in CLAIMED_RULES])
def test_claimed_cel_rule_is_present(kind: str, path: str, text: str) -> None:
    assert any(at == path and text in rule["rule"] for at, rule in validations(kind))


@pytest.mark.parametrize("field", IMMUTABLE_SPEC_FIELDS)
def test_immutable_fields_have_transition_rules(field: str) -> None:
    rules = [rule for at, rule in validations("TrainingJob") if at == ".spec" and rule.get("fieldPath") == f".{field}"]
    assert any(f"oldSelf.{field}" in rule["rule"] and "immutable" in rule["message"] for rule in rules), rules


def test_only_immutable_fields_have_transition_rules() -> None:
    """workers, priority, gpuClasses, maxPricePerGPUHour and runPolicy stay mutable (elastic jobs, bids)."""
    fields = {rule["fieldPath"].lstrip(".") for _, rule in validations("TrainingJob") if "oldSelf" in rule["rule"]}
    assert fields == set(IMMUTABLE_SPEC_FIELDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_rule_explains_itself(kind: str) -> None:
    for path, rule in validations(kind):
        assert rule.get("message"), (path, rule["rule"])
        assert rule.get("reason", "FieldValueInvalid") in CEL_REASONS, (path, rule)
        if "fieldPath" in rule:
            target = node_at(kind, (path + rule["fieldPath"]).lstrip("."))
            assert target is not None, (path, rule["fieldPath"])


def test_reserved_env_rules_spell_the_shared_constant() -> None:
    rules = [rule for _, rule in validations("TrainingJob") if "PET_NNODES" in rule["rule"]]
    assert len(rules) == 2  # spec.env and the pod template's container env
    for rule in rules:
        listed = re.findall(r"'([A-Z_]+)'", rule["rule"].split("]")[0])
        assert tuple(listed) == constants.RESERVED_ENV_NAMES
        assert f"startsWith('{constants.RESERVED_ENV_PREFIX}')" in rule["rule"]
    description = node_at("TrainingJob", "spec.env")["description"]  # type: ignore[index]
    assert all(name in description for name in constants.RESERVED_ENV_NAMES)


@pytest.mark.parametrize(
    ("kind", "path", "list_type", "keys"),
    [
        pytest.param("Tenant", "spec.namespaces", "set", None, id="namespaces unique"),
        pytest.param("TrainingJob", "spec.gpuClasses", "set", None, id="gpuClasses unique"),
        pytest.param("TrainingJob", "spec.env", "map", ["name"], id="env keyed by name"),
        pytest.param("TrainingJob", "spec.podTemplate.spec.volumes", "map", ["name"], id="volumes keyed by name"),
        pytest.param("TrainingJob", "spec.podTemplate.spec.containers[].volumeMounts", "map", ["mountPath"],
                     id="mounts keyed by path"),
        pytest.param("TrainingJob", "status.throughput", "map", ["gpuClass", "workers"], id="throughput per class"),
        pytest.param("TrainingJob", "status.conditions", "map", ["type"], id="job conditions"),
        pytest.param("Tenant", "status.conditions", "map", ["type"], id="tenant conditions"),
        pytest.param("GPUClass", "status.conditions", "map", ["type"], id="class conditions"),
    ],
)
def test_list_semantics(kind: str, path: str, list_type: str, keys: list[str] | None) -> None:
    node = node_at(kind, path)
    assert node is not None
    assert node.get("x-kubernetes-list-type") == list_type
    assert node.get("x-kubernetes-list-map-keys") == keys


def test_job_name_limit_leaves_room_for_worker_hostnames() -> None:
    longest_hostname = "a" * constants.MAX_JOB_NAME_LENGTH + constants.WORKER_SUFFIX + str(constants.MAX_WORKERS - 1)
    assert len(longest_hostname) == 63
    assert node_at("TrainingJob", "spec.workers.max")["maximum"] == constants.MAX_WORKERS  # type: ignore[index]
