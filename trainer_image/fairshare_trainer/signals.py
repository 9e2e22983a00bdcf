"""SIGTERM and SIGINT become a request to stop after the current step, never an abrupt exit."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType


class StopRequest:
    """Set by a signal handler; the train loop reads it once per step and the ranks agree on when to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal_name = ""
        self.requested_at_monotonic: float | None = None

    def install(self) -> StopRequest:
        """Handle SIGTERM (Kubernetes eviction, torchrun's shutdown) and SIGINT (Ctrl-C) in the main thread."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # Only record it: the step in flight finishes, then every rank checkpoints the same step.
        if not self._event.is_set():
            self.signal_name = signal.Signals(signum).name
            self.requested_at_monotonic = time.monotonic()
        self._event.set()

    def request(self, reason: str) -> None:
        self.signal_name = reason
        self.requested_at_monotonic = time.monotonic()
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()
