"""Bounded polling for tests: wait for a condition or fail with the last state seen, never sleep blindly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str | Callable[[], str],
             interval: float = 0.25) -> T:
    """Call probe until it returns a truthy value (returned); fail after timeout naming `what` and the last value.

    `what` may be a callable, evaluated only on failure, to describe the state the test was waiting on.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = probe()
        if last:
            return last  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {described}; last seen: {last!r}")
        time.sleep(interval)


def hold_for(probe: Callable[[], T | None], *, seconds: float, what: str | Callable[[], str],
             interval: float = 1.0) -> int:
    """Call probe every `interval` for `seconds` (and once more at the end); fail at the first falsy answer, naming
    `what` and that answer. Returns how many times the probe held.

    The counterpart of wait_for, for "and then nothing changes": bounded by `seconds`, never by a blind sleep.
    """
    start = time.monotonic()
    deadline = start + seconds
    held = 0
    while True:
        last = probe()
        if not last:
            described = what() if callable(what) else what
            raise AssertionError(f"after {time.monotonic() - start:.0f}s of {seconds:.0f}s, no longer {described}; "
                                 f"last seen: {last!r}")
        held += 1
        now = time.monotonic()
        if now >= deadline:
            return held
        time.sleep(min(interval, deadline - now))
