"""This process's place in the torchrun world, the process group, and the per-step agreement between ranks."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import torch
import torch.distributed as dist

from fairshare_trainer.config import ConfigError
from fairshare_trainer.placement import Placement

# Long enough for the slowest rank to write a large checkpoint, short enough that ranks whose peer died
# (a pod evicted without a grace period) fail within minutes instead of hanging for the default 30.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=10)


def choose_device(requested: str, placement: Placement) -> torch.device:
    """FAIRSHARE_DEVICE=auto picks this process's GPU (cuda:LOCAL_RANK) when CUDA is available, else the CPU."""
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("FAIRSHARE_DEVICE='cuda' is invalid: no CUDA device is visible to this process")
    if placement.local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"LOCAL_RANK={placement.local_rank} has no GPU: only {torch.cuda.device_count()} visible; "
            "nproc_per_node must not exceed the GPUs per worker"
        )
    torch.cuda.set_device(placement.local_rank)
    return torch.device("cuda", placement.local_rank)


def init_process_group(placement: Placement, device: torch.device) -> None:
    """NCCL between GPUs, Gloo on CPU; a standalone run gets an in-memory store instead of a rendezvous."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    if placement.world_size == 1:
        # One code path for every size: DDP and the collectives below work unchanged on a group of one.
        dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1, timeout=COLLECTIVE_TIMEOUT)
    else:
        dist.init_process_group(
            backend,
            init_method="env://",
            rank=placement.rank,
            world_size=placement.world_size,
            timeout=COLLECTIVE_TIMEOUT,
            device_id=device if device.type == "cuda" else None,
        )


def destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@dataclass(frozen=True)
class StepAgreement:
    """What all ranks decided together after a step: the same answer on every rank."""

    stop: bool  # some rank was asked to stop (SIGTERM), so all stop after this step
    checkpoint_due: bool  # the leader's checkpoint timer fired
    mean_loss: float


def agree_after_step(stop_requested: bool, checkpoint_timer_fired: bool, loss: torch.Tensor) -> StepAgreement:
    """One small all_reduce per step carries the stop flags, the timer and the loss, so ranks never diverge.

    Each rank's SIGTERM arrives at a slightly different moment; summing the flags makes every rank stop after
    the same step, so the checkpoint they agree on is consistent. Wall-clock timers differ between hosts, so
    only the leader's timer counts (other ranks pass False).
    """
    flags = torch.stack(
        [
            torch.tensor(float(stop_requested), device=loss.device, dtype=torch.float64),
            torch.tensor(float(checkpoint_timer_fired), device=loss.device, dtype=torch.float64),
            loss.detach().to(torch.float64),
        ]
    )
    dist.all_reduce(flags, op=dist.ReduceOp.SUM)
    stop, timer, loss_sum = flags.tolist()
    return StepAgreement(stop=stop > 0, checkpoint_due=timer > 0, mean_loss=loss_sum / dist.get_world_size())


def broadcast_from_leader(value: object, device: torch.device) -> object:
    """Send one picklable object from rank 0 to every rank (the checkpoint state on resume)."""
    holder = [value]
    dist.broadcast_object_list(holder, src=0, device=device)
    return holder[0]
