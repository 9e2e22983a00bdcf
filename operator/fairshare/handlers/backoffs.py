"""kopf's retries of failed API requests without an end: its watches outlive any outage of the API server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

# kopf's own schedule, then every 30 s for as long as it takes.
FIRST_BACKOFFS = (1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)
LATER_BACKOFF = 30.0


class EndlessBackoffs:
    """settings.networking.error_backoffs that never run out. kopf's default stops after 8 retries (about 55 s of
    backoffs): a watch that fails that often is dropped, and the operator runs on without it, seeing no further
    events of that kind. No length, so kopf counts no last attempt; re-iterable, because every request starts the
    schedule afresh."""

    def __iter__(self) -> Iterator[float]:
        return itertools.chain(FIRST_BACKOFFS, itertools.repeat(LATER_BACKOFF))
