"""Structured progress log: one JSON object per line on stdout, easy for people, kubectl logs and tests."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def emit(event: str, **fields: Any) -> None:
    """Print {"event": ..., "time": ..., **fields} as one line and flush, so a killed pod loses nothing."""
    record = {"event": event, "time": round(time.time(), 3), **fields}
    sys.stdout.write(json.dumps(record, sort_keys=False) + "\n")
    sys.stdout.flush()


def write_termination_message(path: str, **fields: Any) -> None:
    """Leave the outcome where Kubernetes shows it as the container's termination message.

    The kubelet creates /dev/termination-log in every container and copies what is written there into
    status.containerStatuses[].state.terminated.message: the operator reads "finished" vs "stopped" and the
    step there, rather than inferring them from torchrun's exit code. Outside Kubernetes the file is absent
    and nothing is written.
    """
    if not path or not os.path.isfile(path):
        return
    try:
        with open(path, "w") as handle:
            handle.write(json.dumps(fields, sort_keys=True))
    except OSError as error:  # a read-only mount must not turn a clean exit into a crash
        emit("termination_message_failed", path=path, error=str(error))
