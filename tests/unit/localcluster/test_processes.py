"""Process bookkeeping of the local cluster: a record stops exactly the process it names (never a recycled pid),
state survives a save and load, a process that dies early is reported with its log, and logs are tailed."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fairshare.localcluster import processes
from fairshare.localcluster.cluster import ClusterState
from fairshare.localcluster.processes import ProcessRecord, StartupError
from fairshare.localcluster.shape import NodePool

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[ProcessRecord]:
    record = processes.spawn("sleeper", SLEEPER, tmp_path)
    yield record
    processes.stop(record, grace_seconds=5.0)


def test_a_spawned_process_is_alive_until_stopped(sleeper: ProcessRecord) -> None:
    assert processes.is_alive(sleeper)
    processes.stop(sleeper, grace_seconds=5.0)
    assert not processes.is_alive(sleeper)
    processes.stop(sleeper, grace_seconds=5.0)  # already gone: a no-op


@pytest.mark.parametrize(("pid_of", "ticks_of", "alive"), [
    pytest.param("live", "live", True, id="same pid, same start time: the process"),
    pytest.param("live", "other", False, id="same pid, another start time: a recycled pid, not ours"),
    pytest.param("none", "live", False, id="no such pid"),
])
def test_a_record_names_one_process_by_pid_and_start_time(sleeper: ProcessRecord, pid_of: str, ticks_of: str,
                                                          alive: bool) -> None:
    record = ProcessRecord("x", sleeper.pid if pid_of == "live" else 2**22 + 1,
                           sleeper.start_ticks + (0 if ticks_of == "live" else 1), sleeper.log)
    assert processes.is_alive(record) is alive


def test_stopping_a_stale_record_leaves_the_process_with_its_pid_running(sleeper: ProcessRecord) -> None:
    stale = ProcessRecord("old", sleeper.pid, sleeper.start_ticks - 1, sleeper.log)
    processes.stop(stale, grace_seconds=1.0)
    assert processes.is_alive(sleeper)


@pytest.mark.parametrize(("script", "words"), [
    pytest.param("print('etcd: address in use', flush=True); raise SystemExit(3)", "address in use",
                 id="exits with a message: the log's tail says why"),
    pytest.param("raise SystemExit(0)", "exited before ready", id="exits quietly"),
])
def test_a_process_that_dies_before_ready_is_a_startup_error(tmp_path: Path, script: str, words: str) -> None:
    record = processes.spawn("comp", [sys.executable, "-c", f"import time; time.sleep(0.2); {script}"], tmp_path)
    with pytest.raises(StartupError) as err:
        processes.wait_until(lambda: False, record, timeout=60.0, what="ready")
    assert words in str(err.value)
    assert str(tmp_path / "comp.log") in str(err.value)


def test_waiting_for_a_ready_process_returns(sleeper: ProcessRecord) -> None:
    assert processes.wait_until(lambda: True, sleeper, timeout=60.0, what="ready") >= 0.0


@pytest.mark.parametrize(("lines", "keep", "want"), [
    pytest.param(None, 30, "(no log)", id="no log file"),
    pytest.param(3, 30, "l0\nl1\nl2", id="a short log whole"),
    pytest.param(50, 30, "\n".join(f"l{i}" for i in range(20, 50)), id="a long log: its last 30 lines"),
    pytest.param(5, 2, "l3\nl4", id="as many lines as asked"),
])
def test_tail(tmp_path: Path, lines: int | None, keep: int, want: str) -> None:
    path = tmp_path / "c.log"
    if lines is not None:
        path.write_text("".join(f"l{i}\n" for i in range(lines)))
    assert processes.tail(path, keep) == want


@pytest.mark.parametrize("count", [1, 4])
def test_free_port_range_gives_consecutive_free_ports(count: int) -> None:
    base = processes.free_port_range(count)
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for offset, sock in enumerate(sockets):
            sock.bind(("127.0.0.1", base + offset))
    finally:
        for sock in sockets:
            sock.close()


def test_cluster_state_survives_save_and_load_and_knows_what_runs(tmp_path: Path, sleeper: ProcessRecord) -> None:
    gone = ProcessRecord("gone", sleeper.pid, sleeper.start_ticks + 1, sleeper.log)
    state = ClusterState(str(tmp_path), str(tmp_path / "kubeconfig"), "https://127.0.0.1:6443", {"apiserver": 6443},
                         [sleeper, gone], [NodePool("a100", 2, 8), NodePool("l4", 1, 4, cpu="48")],
                         {"etcd": 1.5})
    state.save()
    loaded = ClusterState.load(tmp_path)
    assert loaded == state
    assert loaded is not None and loaded.running() == [sleeper]
    assert loaded.node_names() == ["a100-000", "a100-001", "l4-000"]


def test_no_state_file_is_no_cluster(tmp_path: Path) -> None:
    assert ClusterState.load(tmp_path) is None
