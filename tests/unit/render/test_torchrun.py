"""torchrun_env: each PET_* name once, with values torch's own launcher reads back as the intended world."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from fairshare.api.constants import RESERVED_ENV_NAMES, TORCHRUN_ENV_NAMES, is_reserved_env_name
from fairshare.render import torchrun_env


def env_of(node_rank: int = 1, nnodes: int = 4, nproc: int = 8, port: int = 29500) -> dict[str, str]:
    pairs = torchrun_env("bert", "nlp", "bert", node_rank, nnodes, nproc, port)
    names = [pair["name"] for pair in pairs]
    assert len(names) == len(set(names)), names
    return {pair["name"]: pair["value"] for pair in pairs}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, {"PET_NNODES": "4", "PET_NPROC_PER_NODE": "8", "PET_NODE_RANK": "1",
                          "PET_MASTER_ADDR": "bert-worker-0.bert.nlp.svc", "PET_MASTER_PORT": "29500"},
                     id="four nodes of eight GPUs, rank 1"),
        pytest.param({"node_rank": 0, "nnodes": 1, "nproc": 1, "port": 23456},
                     {"PET_NNODES": "1", "PET_NPROC_PER_NODE": "1", "PET_NODE_RANK": "0",
                      "PET_MASTER_ADDR": "localhost", "PET_MASTER_PORT": "23456"},
                     id="single worker is its own master, on localhost"),
    ],
)
def test_torchrun_env_values(kwargs: dict[str, int], expected: dict[str, str]) -> None:
    assert env_of(**kwargs) == expected


def test_every_name_set_is_reserved_and_a_torchrun_name() -> None:
    names = set(env_of())
    assert names <= set(TORCHRUN_ENV_NAMES) <= set(RESERVED_ENV_NAMES)
    assert all(is_reserved_env_name(name) for name in names)


@pytest.mark.parametrize(("node_rank", "nnodes", "nproc"), [
    pytest.param(4, 4, 1, id="rank past the last node"),
    pytest.param(-1, 4, 1, id="negative rank"),
    pytest.param(0, 1, 0, id="no processes"),
])
def test_impossible_worlds_are_refused(node_rank: int, nnodes: int, nproc: int) -> None:
    with pytest.raises(ValueError):
        torchrun_env("bert", "nlp", "bert", node_rank, nnodes, nproc, 29500)


def test_torch_launcher_reads_the_names() -> None:
    """The names are torch's: PET_ + the argparse dest of --nnodes, --nproc-per-node, --node-rank, --master-*."""
    run = pytest.importorskip("torch.distributed.run")
    with mock.patch.dict(os.environ, env_of(node_rank=2, nnodes=3, nproc=4, port=29511)):
        args = run.get_args_parser().parse_args(["train.py"])
    assert (args.nnodes, args.nproc_per_node, args.node_rank, args.master_addr, args.master_port) == (
        "3", "4", 2, "bert-worker-0.bert.nlp.svc", 29511)
    assert args.rdzv_backend == "static"  # fixed world per launch; a resize restarts every worker
