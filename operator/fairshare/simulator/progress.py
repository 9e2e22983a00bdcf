"""A plain progress bar on stderr for long replays (no dependency); the clock and stream are injected."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    """Redraws one line at most every `interval_s` wall seconds; silent when disabled."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, interval_s: float = 0.5, width: int = 30) -> None:
        self.label, self.total, self.enabled = label, max(total, 1), enabled
        self.stream = stream if stream is not None else sys.stderr
        self.clock, self.interval_s, self.width = clock, interval_s, width
        self.started = clock()
        self._last_draw = -float("inf")
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        if not self._tty:
            self.interval_s = max(self.interval_s, 10.0)

    def update(self, done: int, sim_seconds: float, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not force and now - self._last_draw < self.interval_s:
            return
        self._last_draw = now
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"{self.label:>18} [{bar}] {done:>6}/{self.total} jobs  "
                f"sim {sim_seconds / 3600:8.1f} h  wall {now - self.started:6.1f} s")
        self.stream.write(f"\r{line}" if self._tty else f"{line}\n")
        self.stream.flush()

    def close(self, done: int, sim_seconds: float) -> None:
        if self.enabled:
            self.update(done, sim_seconds, force=True)
            if self._tty:
                self.stream.write("\n")
            self.stream.flush()
