"""Which changes to a waiting job's queue status are worth an API write.

Every admission moves every later job up the queue, and the numbers in a wait reason (prices, shares, jobs
ahead) drift every cycle; writing each change would cost one write per waiting job per cycle, which at
thousands of waiting jobs is most of what the operator sends the API server. So a waiting job's status is
rewritten only when its position or its reason changes materially:
- the position, exactly while it is within the first EXACT_POSITIONS, and beyond that once it moved by more
  than POSITION_SLACK of itself (a job at 4,000 is rewritten about 30 times on its way to the front, not 4,000);
- the reason, when it changes in kind: its words, not the numbers in it.
Numbers in a stored reason can therefore lag the live ones; `fairshare explain` computes them afresh.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

EXACT_POSITIONS = 10
POSITION_SLACK = 0.2
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def reason_kind(reason: str | None) -> str:
    """The reason with every number masked: what kind of obstacle it names, not its current figures."""
    return _NUMBER.sub("#", reason or "")


def position_moved(old: int | None, new: int | None) -> bool:
    """Whether a queue position changed enough to be written (see the module docstring)."""
    if old is None or new is None:
        return old != new
    if min(old, new) <= EXACT_POSITIONS:
        return old != new
    return abs(new - old) > POSITION_SLACK * old


def queue_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether the stored queue entry `old` ({position, reason}) differs materially from the live one `new`."""
    if not old:
        return True
    return (position_moved(old.get("position"), new.get("position"))
            or reason_kind(old.get("reason")) != reason_kind(new.get("reason")))
