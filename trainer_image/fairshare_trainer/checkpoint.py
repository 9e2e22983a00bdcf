"""Checkpoint files: atomic writes by rank 0, discovery of the newest readable one, and pruning of old ones."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from fairshare_trainer.log import emit

FORMAT_VERSION = 1
_NAME = re.compile(r"^checkpoint-(\d{8,})\.pt$")


def checkpoint_path(directory: Path, step: int) -> Path:
    """checkpoint-00000042.pt: zero-padded so names sort by step for people listing the directory."""
    return directory / f"checkpoint-{step:08d}.pt"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint, oldest first; temporary files of a torn write never match."""
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _NAME.match(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def _fsync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is; some filesystems refuse, which is fine.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(directory: Path, step: int, state: dict[str, Any], keep: int) -> Path:
    """Write state to a temporary file beside the target, fsync, rename over it, then prune to `keep` files.

    A reader sees either the previous complete set or the new complete file, never a partial one, even when
    the pod is killed mid-write: rename within one directory is atomic on POSIX filesystems.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = checkpoint_path(directory, step)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format_version": FORMAT_VERSION, **state}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    for _, old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return target


def load_latest_checkpoint(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that loads, newest first; an unreadable one (a bad disk, a foreign file) is skipped.

    weights_only=True: the file holds only tensors and plain containers, and loading must never run code
    from a shared volume.
    """
    for _, path in reversed(list_checkpoints(directory)):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # any failure to read means "try the previous one"
            emit("checkpoint_unreadable", path=str(path), error=f"{type(error).__name__}: {error}")
            continue
        if state.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: checkpoint format {state.get('format_version')!r}, expected {FORMAT_VERSION}")
        return path, state
    return None
