"""Training state to and from checkpoints: what is saved, when it is due, and how every rank resumes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fairshare_trainer import distributed
from fairshare_trainer.checkpoint import load_latest_checkpoint, save_checkpoint
from fairshare_trainer.config import ConfigError, TrainerConfig
from fairshare_trainer.log import emit
from fairshare_trainer.model import ModelShape
from fairshare_trainer.placement import Placement


@dataclass
class Progress:
    """How far the job has come; step and samples_seen survive restarts and resizes through the checkpoint."""

    step: int = 0
    samples_seen: int = 0  # global samples consumed: the position in the data order
    last_checkpoint_step: int = -1


@dataclass(frozen=True)
class Resumed:
    """What a restart picked up, for the log and the metrics."""

    path: str
    step: int
    samples_seen: int
    seed: int  # the data order's seed: the checkpoint's, so samples_seen keeps its meaning
    checkpoint_world_size: int
    saved_at_unix: float


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _restore_rng(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def checkpoint_state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    shape: ModelShape,
    config: TrainerConfig,
    placement: Placement,
    device: torch.device,
    saved_at_unix: float,
) -> dict[str, Any]:
    """Everything a restart at any world size needs; DDP replicas are identical, so rank 0's copy serves all."""
    return {
        "step": progress.step,
        "samples_seen": progress.samples_seen,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": _rng_state(device),
        "model_shape": shape.as_dict(),
        "seed": config.seed,
        "world_size": placement.world_size,
        "batch_size": config.batch_size,
        "saved_at_unix": saved_at_unix,
    }


def resume_latest(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    shape: ModelShape,
    config: TrainerConfig,
    placement: Placement,
    device: torch.device,
) -> Resumed | None:
    """Rank 0 reads the newest checkpoint and sends it to all ranks, so only rank 0 needs the volume mounted."""
    found = None
    if placement.is_leader and config.checkpoint_dir:
        found = load_latest_checkpoint(Path(config.checkpoint_dir))
    found = distributed.broadcast_from_leader(found, device)
    if found is None:
        return None
    path, state = found
    if state["model_shape"] != shape.as_dict():
        raise ConfigError(
            f"FAIRSHARE_MODEL_SIZE={config.model_size!r} does not match checkpoint {path}, written by a model "
            f"of shape {state['model_shape']}; use the same size or a fresh FAIRSHARE_CHECKPOINT_DIR"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    _restore_rng(state["rng"], device)
    return Resumed(
        path=str(path),
        step=state["step"],
        samples_seen=state["samples_seen"],
        seed=state["seed"],
        checkpoint_world_size=state["world_size"],
        saved_at_unix=state["saved_at_unix"],
    )


class Checkpointer:
    """Decides when a checkpoint is due and writes it from rank 0; all ranks then wait at a barrier."""

    def __init__(self, config: TrainerConfig, placement: Placement, on_saved: Callable[[int, float], None]) -> None:
        self.config = config
        self.placement = placement
        self.on_saved = on_saved
        self.last_saved_monotonic = time.monotonic()

    def timer_fired(self) -> bool:
        every = self.config.checkpoint_every_seconds
        return bool(every) and time.monotonic() - self.last_saved_monotonic >= every

    def step_due(self, step: int) -> bool:
        every = self.config.checkpoint_every_steps
        return bool(every) and step % every == 0

    def save(self, progress: Progress, reason: str, build_state: Callable[[float], dict[str, Any]]) -> None:
        """Write unless checkpoints are off or this step is already saved (a stop right after an interval save)."""
        if not self.config.checkpoint_dir or progress.last_checkpoint_step == progress.step:
            return
        started = time.monotonic()
        saved_at = time.time()
        path = None
        if self.placement.is_leader:
            path = save_checkpoint(
                Path(self.config.checkpoint_dir), progress.step, build_state(saved_at), self.config.checkpoints_kept
            )
        # Nobody moves on (or exits) before the file is in place: a stop is only safe once it is.
        torch.distributed.barrier()
        progress.last_checkpoint_step = progress.step
        self.last_saved_monotonic = time.monotonic()
        self.on_saved(progress.step, saved_at)
        if path is not None:
            emit(
                "checkpoint",
                step=progress.step,
                samples_seen=progress.samples_seen,
                path=str(path),
                reason=reason,
                seconds=round(time.monotonic() - started, 3),
            )
