"""Where this process sits in the torchrun world (RANK, WORLD_SIZE, LOCAL_RANK); no torch import, so it is fast."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fairshare_trainer.config import ConfigError


@dataclass(frozen=True)
class Placement:
    """Rank, world size and local rank, as torchrun sets them (RANK, WORLD_SIZE, LOCAL_RANK)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_leader(self) -> bool:
        """Rank 0 writes checkpoints and the step log; every rank serves metrics."""
        return self.rank == 0


def _env_int(environ: Mapping[str, str], name: str, minimum: int) -> int:
    raw = environ.get(name, "")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is invalid: expected an integer >= {minimum}") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} is invalid: expected an integer >= {minimum}")
    return value


def placement_from_env(environ: Mapping[str, str]) -> Placement:
    """Read torchrun's variables; with none of them set this is a standalone run of world size 1."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    if not any(environ.get(name) for name in names):
        return Placement()
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} unset while {', '.join(set(names) - set(missing))} set: "
            "launch with torchrun, which sets all three, or set none of them"
        )
    placement = Placement(
        rank=_env_int(environ, "RANK", 0),
        world_size=_env_int(environ, "WORLD_SIZE", 1),
        local_rank=_env_int(environ, "LOCAL_RANK", 0),
    )
    if placement.rank >= placement.world_size:
        raise ConfigError(f"RANK={placement.rank} is invalid: must be below WORLD_SIZE={placement.world_size}")
    if placement.world_size > 1 and not (environ.get("MASTER_ADDR") and environ.get("MASTER_PORT")):
        raise ConfigError("MASTER_ADDR and MASTER_PORT must be set when WORLD_SIZE > 1 (torchrun sets them)")
    return placement
