"""Trainer test setup: fairshare_trainer importable in-process, and a launcher that cleans up its processes."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.trainer.processes import TRAINER_SOURCE, TrainerLauncher

if str(TRAINER_SOURCE) not in sys.path:
    sys.path.insert(0, str(TRAINER_SOURCE))


@pytest.fixture
def launcher() -> Iterator[TrainerLauncher]:
    started = TrainerLauncher()
    yield started
    started.cleanup()
