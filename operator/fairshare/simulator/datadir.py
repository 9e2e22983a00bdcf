"""Where the shared public data set lives: a flag, then $FAIRSHARE_DATA_DIR, then ../shared/data beside the repo."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATA_DIR_ENV = "FAIRSHARE_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


def resolve_data_dir(flag: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The data directory to read traces from; the files are read in place, never copied into the repo."""
    env = os.environ if environ is None else environ
    chosen = Path(flag) if flag else Path(env[DATA_DIR_ENV]) if env.get(DATA_DIR_ENV) else DEFAULT_DATA_DIR
    if not chosen.is_dir():
        raise RuntimeError(f"data directory {chosen} not found: pass --data-dir or set {DATA_DIR_ENV} "
                           "to the shared data folder (the one holding gavel/, pollux/, shockwave/)")
    return chosen
