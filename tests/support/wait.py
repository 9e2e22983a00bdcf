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
