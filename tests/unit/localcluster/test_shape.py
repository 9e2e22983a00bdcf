"""Parsing the local cluster's GPU fleet: defaults, valid pools, and errors that name the field."""

from __future__ import annotations

import pytest

from fairshare.api.constants import GPU_RESOURCE
from fairshare.localcluster.shape import (
    DEFAULT_POOLS,
    GPU_CLASS_LABEL,
    KWOK_NODE_ANNOTATION,
    NodePool,
    ShapeError,
    load_pools,
    node_manifest,
    parse_pools,
)


def test_default_fleet_is_4xh100_8xa100_8xl4() -> None:
    assert load_pools(None) == DEFAULT_POOLS
    assert {(p.gpu_class, p.count, p.gpus_per_node) for p in DEFAULT_POOLS} == {
        ("h100", 4, 8), ("a100", 8, 8), ("l4", 8, 4)}


def test_parse_pools_reads_every_field() -> None:
    pools = parse_pools({"nodePools": [
        {"gpuClass": "v100", "count": 36, "gpusPerNode": 1},
        {"gpuClass": "k80", "count": 2, "gpusPerNode": 4, "cpu": "16", "memory": "64Gi", "pods": 20},
    ]})
    assert pools == (NodePool("v100", 36, 1), NodePool("k80", 2, 4, cpu="16", memory="64Gi", pods=20))


@pytest.mark.parametrize(("doc", "field"), [
    pytest.param({}, "nodePools", id="missing nodePools"),
    pytest.param({"nodePools": []}, "nodePools", id="empty nodePools"),
    pytest.param({"nodePools": ["a100"]}, "nodePools[0]", id="pool not a mapping"),
    pytest.param({"nodePools": [{"gpuClass": "A100", "count": 1, "gpusPerNode": 8}]}, "nodePools[0].gpuClass",
                 id="uppercase class"),
    pytest.param({"nodePools": [{"gpuClass": "a100", "count": 0, "gpusPerNode": 8}]}, "nodePools[0].count",
                 id="zero nodes"),
    pytest.param({"nodePools": [{"gpuClass": "a100", "count": 1, "gpusPerNode": -8}]}, "nodePools[0].gpusPerNode",
                 id="negative GPUs"),
    pytest.param({"nodePools": [{"gpuClass": "a100", "count": True, "gpusPerNode": 8}]}, "nodePools[0].count",
                 id="boolean is not a count"),
    pytest.param({"nodePools": [{"gpuClass": "a100", "count": 1, "gpusPerNode": 8, "gpu": 1}]}, "nodePools[0]",
                 id="unknown field"),
    pytest.param({"nodePools": [{"gpuClass": "a100", "count": 1, "gpusPerNode": 8},
                                {"gpuClass": "a100", "count": 2, "gpusPerNode": 4}]}, "nodePools",
                 id="duplicate class"),
])
def test_invalid_shapes_name_the_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(ShapeError) as err:
        parse_pools(doc)
    assert str(err.value).startswith(f"{field}:")


def test_node_manifest_is_a_kwok_gpu_node_of_its_class() -> None:
    pool = NodePool("l4", count=2, gpus_per_node=4)
    names = pool.node_names()
    node = node_manifest(pool, names[1])

    assert names == ["l4-000", "l4-001"]
    assert node["metadata"]["name"] == "l4-001"
    assert node["metadata"]["annotations"][KWOK_NODE_ANNOTATION] == "fake"
    assert node["metadata"]["labels"][GPU_CLASS_LABEL] == "l4"
    assert node["status"]["allocatable"][GPU_RESOURCE] == "4"
    assert node["status"]["capacity"] == node["status"]["allocatable"]
