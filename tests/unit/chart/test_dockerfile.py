"""operator/Dockerfile: pinned to pyproject.toml, everything the operator imports and nothing it does not."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tests.unit.chart.chart import REPO_ROOT

DOCKERFILE = REPO_ROOT / "operator" / "Dockerfile"
# Declared by the package for the trainer tests, the simulator's plots and its Gavel LP baseline; the operator never
# imports them.
LEFT_OUT = {"torch", "matplotlib", "scipy"}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {normalise(name): version for name, version in (d.split("#")[0].strip().split("==") for d in deps)}


def dockerfile_pins() -> dict[str, str]:
    return {normalise(name): version for name, version in
            re.findall(r"^\s+([A-Za-z0-9_.-]+)==([^\s\\]+)", DOCKERFILE.read_text(), re.MULTILINE)}


def test_runtime_dependencies_are_pyprojects_pins_without_torch_matplotlib_and_scipy() -> None:
    expected = {name: version for name, version in pyproject_pins().items() if name not in LEFT_OUT}
    assert dockerfile_pins() == expected


def test_image_is_slim_python_installing_the_package_without_dependencies_as_a_numeric_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.MULTILINE)
    assert "pip install --no-deps ." in text
    (user,) = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or gid.isdigit())
    assert re.search(r'^ENTRYPOINT \["fairshare"\]$', text, re.MULTILINE)


def test_the_operator_command_runs_without_the_left_out_packages() -> None:
    """What the image claims: `fairshare operator` imports nothing from torch or matplotlib."""
    blocked = sorted(LEFT_OUT)
    program = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked in this test: " + name)
sys.meta_path.insert(0, Block())
from fairshare.cli.main import build_parser
build_parser().parse_args(["operator", "--period=5"])
import fairshare.handlers.operator
print("imported")
"""
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr
