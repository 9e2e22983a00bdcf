"""Compile the scheduling core with mypyc into the cache folder named by its sources' hash (`-m fairshare.corebuild`).

The build runs in a scratch folder on a copy of the core's sources and moves the result into place in one rename, so
a build that fails or is interrupted leaves nothing behind and the core keeps running as Python. Needs mypy (the dev
extra) and a C compiler; without them it says so and exits 0, since the Python sources are a complete fallback.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType


def _load_locator() -> ModuleType:
    """fairshare/core/compiled.py on its own: importing the package would load a build, possibly a broken one."""
    path = Path(__file__).resolve().parent / "core" / "compiled.py"
    spec = importlib.util.spec_from_file_location("fairshare_core_locator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compiled = _load_locator()

SETUP = """\
from setuptools import setup
from mypyc.build import mypycify
setup(name="fairshare-core-compiled", packages=[],
      ext_modules=mypycify({modules!r}, opt_level="3", group_name="fairshare_core"))
"""


def compiled_modules() -> list[Path]:
    """The core's modules mypyc compiles (all but the interpreted ones)."""
    return [p for p in compiled.sources() if p.stem not in compiled.INTERPRETED]


def build(force: bool = False, quiet: bool = False) -> Path | None:
    """Build the current sources unless a build of them exists; returns the build folder (None: cannot build)."""
    target = compiled.build_dir()
    if (target / "complete").is_file() and not force:
        if not quiet:
            print(f"compiled core up to date: {target}")
        return target
    missing = [tool for tool in ("mypyc", "cc") if not _available(tool)]
    if missing:
        print(f"not compiling the core ({', '.join(missing)} not found); it runs as Python", file=sys.stderr)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="corebuild-", dir=target.parent) as scratch:
        work = Path(scratch)
        package = work / "fairshare" / "core"
        package.mkdir(parents=True)
        (work / "fairshare" / "__init__.py").write_text("")
        for source in compiled.sources():
            shutil.copy2(source, package / source.name)
        modules = [f"fairshare/core/{p.name}" for p in compiled_modules()]
        (work / "setup.py").write_text(SETUP.format(modules=modules))
        env = {**os.environ, "FAIRSHARE_CORE_COMPILED": "0"}
        done = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=work, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-4000:] + done.stderr[-4000:], file=sys.stderr)
            print("compiling the core failed (output above); it runs as Python", file=sys.stderr)
            return None
        staged = work / "out"
        (staged / "core").mkdir(parents=True)
        (staged / "runtime").mkdir()
        for lib in work.glob("*.so"):  # mypyc's shared support module for the group
            shutil.move(str(lib), staged / "runtime" / lib.name)
        for lib in package.glob("*.so"):
            shutil.move(str(lib), staged / "core" / lib.name)
        (staged / "complete").write_text(f"{len(modules)} modules in {time.perf_counter() - start:.0f} s\n")
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    if not quiet:
        print(f"compiled {len(modules)} core modules with mypyc in {time.perf_counter() - start:.0f} s: {target}")
    return target


def _available(tool: str) -> bool:
    if tool == "mypyc":
        try:
            import mypyc.build  # noqa: F401
        except ImportError:
            return False
        return True
    return shutil.which(tool) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if a build of these sources exists")
    parser.add_argument("--print-dir", action="store_true", help="print the folder of the current build, if any")
    args = parser.parse_args(argv)
    if args.print_dir:
        target = compiled.build_dir()
        print(target if (target / "complete").is_file() else "")
        return 0
    build(force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
