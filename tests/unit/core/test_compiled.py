"""The mypyc-compiled core: used only when built from exactly these sources, and deciding exactly as the Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fairshare.core import compiled

REPO = Path(__file__).resolve().parents[3]

# One seeded cycle of the core benchmark's snapshot, printed as everything a consumer reads from the result.
CYCLE = """
import json, sys
sys.path.insert(0, "benchmarks")
import core_cycle
import fairshare.core as core
from fairshare.core.allocator import schedule
from fairshare.core.config import PolicyConfig
snapshot = core_cycle.build(core_cycle.Case({pending}, {tenants}, 3, {nodes}))
result = schedule(snapshot, 10_000.0, PolicyConfig())
print(json.dumps({{"compiled": core.COMPILED_FROM is not None, "decisions": [repr(d) for d in result.decisions],
                  "prices": dict(result.prices), "budgets": dict(result.budgets), "charges": dict(result.charges),
                  "fair_shares": {{t: dict(s) for t, s in result.fair_shares.items()}}, "wake_at": result.wake_at}}))
"""


def _cycle(mode: str, pending: int, tenants: int, nodes: int) -> dict[str, object]:
    env = {**os.environ, "FAIRSHARE_CORE_COMPILED": mode}
    out = subprocess.run([sys.executable, "-c", CYCLE.format(pending=pending, tenants=tenants, nodes=nodes)],
                         cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def _built() -> bool:
    return (compiled.build_dir() / "complete").is_file()


@pytest.mark.parametrize(("pending", "tenants", "nodes"), [(300, 7, 40), (2_000, 30, 250)])
def test_compiled_core_decides_exactly_as_the_python_sources(pending: int, tenants: int, nodes: int) -> None:
    if not _built():
        if os.environ.get("CI"):
            pytest.fail("CI builds the compiled core (make core) before the tests; no build of these sources found")
        pytest.skip("no compiled build of these sources (make core)")
    python, native = _cycle("0", pending, tenants, nodes), _cycle("1", pending, tenants, nodes)
    assert (python.pop("compiled"), native.pop("compiled")) == (False, True)
    assert len(python["decisions"]) >= pending  # type: ignore[arg-type]  # a wait or an admission each, and preemptions
    assert native == python


def _fake_build(root: Path, key: str) -> Path:
    folder = root / "core-compiled" / key
    (folder / "core").mkdir(parents=True)
    (folder / "runtime").mkdir()
    (folder / "complete").write_text("test\n")
    return folder


@pytest.mark.parametrize(
    ("mode", "build_of", "expected"),
    [
        pytest.param("auto", "these sources", "used", id="a build of exactly these sources is used"),
        pytest.param("auto", "other sources", "not used", id="a build of edited sources is never used"),
        pytest.param("auto", "nothing", "not used", id="no build: the Python sources"),
        pytest.param("0", "these sources", "not used", id="FAIRSHARE_CORE_COMPILED=0 forces Python"),
        pytest.param("1", "nothing", "ImportError", id="FAIRSHARE_CORE_COMPILED=1 insists on a build"),
    ],
)
def test_which_build_the_package_loads(mode: str, build_of: str, expected: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRSHARE_CACHE", str(tmp_path))
    monkeypatch.setenv("FAIRSHARE_CORE_COMPILED", mode)
    monkeypatch.setattr(sys, "path", list(sys.path))
    if build_of != "nothing":
        _fake_build(tmp_path, compiled.build_key() if build_of == "these sources" else "0" * 16)
    package_path = ["/src/fairshare/core"]
    if expected == "ImportError":
        with pytest.raises(ImportError, match="make core"):
            compiled.activate(package_path)
        return
    folder = compiled.activate(package_path)
    if expected == "used":
        assert folder == tmp_path / "core-compiled" / compiled.build_key()
        assert package_path == [str(folder / "core"), "/src/fairshare/core"]
        assert str(folder / "runtime") in sys.path
    else:
        assert folder is None and package_path == ["/src/fairshare/core"]


def test_the_build_key_covers_every_source_and_the_interpreter() -> None:
    names = {p.name for p in compiled.sources()}
    assert {"allocator.py", "types.py", "compiled.py", "__init__.py"} <= names
    assert compiled.build_key() == compiled.build_key()
