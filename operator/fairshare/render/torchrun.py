"""The torchrun environment of one worker: size and static rendezvous through the rank-0 pod's DNS name."""

from __future__ import annotations

from fairshare.api.constants import PET_MASTER_ADDR, PET_MASTER_PORT, PET_NNODES, PET_NODE_RANK, PET_NPROC_PER_NODE
from fairshare.render.names import master_addr


def torchrun_env(job_name: str, namespace: str, service_name: str, node_rank: int, nnodes: int, nproc_per_node: int,
                 master_port: int) -> list[dict[str, str]]:
    """The PET_* variables torchrun reads in place of --nnodes, --nproc-per-node, --node-rank, --master-addr/-port.

    nnodes is the allocated size, not a min:max range: an elastic job is resized by restarting every worker
    from its checkpoint with a new allocation, so each launch has a fixed world.
    """
    if not 0 <= node_rank < nnodes:
        raise ValueError(f"node_rank {node_rank} is outside 0..{nnodes - 1}")
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be >= 1, got {nproc_per_node}")
    return [
        {"name": PET_NNODES, "value": str(nnodes)},
        {"name": PET_NPROC_PER_NODE, "value": str(nproc_per_node)},
        {"name": PET_NODE_RANK, "value": str(node_rank)},
        # One node is its own master: no name to resolve (and a job of one worker has no headless Service).
        {"name": PET_MASTER_ADDR, "value": "localhost" if nnodes == 1 else master_addr(job_name, service_name,
                                                                                         namespace)},
        {"name": PET_MASTER_PORT, "value": str(master_port)},
    ]
