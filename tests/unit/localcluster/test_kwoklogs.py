"""A local pod's output in the CRI log format that kwok serves to `kubectl logs`, and the Logs object naming it."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

from fairshare.localcluster import kwoklogs

WHEN = datetime.datetime(2026, 12, 6, 12, 0, 1, 250000, tzinfo=datetime.UTC)


def test_a_line_as_a_kubelet_keeps_it() -> None:
    assert kwoklogs.cri_line(b"step 3 loss 0.25\n", now=WHEN) == \
        b"2026-12-06T12:00:01.250000Z stdout F step 3 loss 0.25\n"
    assert kwoklogs.cri_line(b"no newline at exit", "stderr", WHEN).endswith(b" stderr F no newline at exit\n")


def test_output_is_kept_as_written_and_in_the_cri_format(tmp_path: Path) -> None:
    raw, cri = tmp_path / "pod.log", tmp_path / "pod.cri.log"
    kwoklogs.copy_output(io.BytesIO(b"one\ntwo\nlast"), raw, cri).join(timeout=10)
    assert raw.read_bytes() == b"one\ntwo\nlast"
    assert [line.split(b" ", 3)[1:] for line in cri.read_bytes().splitlines()] == [
        [b"stdout", b"F", b"one"], [b"stdout", b"F", b"two"], [b"stdout", b"F", b"last"]]


def test_the_logs_object_names_the_pods_container_and_file() -> None:
    pod = {"metadata": {"name": "bert-worker-0", "namespace": "nlp", "uid": "u-1"}}
    obj = kwoklogs.logs_object(pod, "trainer", Path("/tmp/x.cri.log"))
    assert obj["spec"] == {"logs": [{"containers": ["trainer"], "logsFile": "/tmp/x.cri.log", "follow": True}]}
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "u-1"
