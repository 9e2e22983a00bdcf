"""The feedback tests read a real TrainerMetrics registry: make fairshare_trainer importable, as tests/trainer does."""

from __future__ import annotations

import sys

from tests.trainer.processes import TRAINER_SOURCE

if str(TRAINER_SOURCE) not in sys.path:
    sys.path.insert(0, str(TRAINER_SOURCE))
