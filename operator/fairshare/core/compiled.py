"""Where the mypyc-compiled build of this package lives, and putting it in front of the Python sources when it matches.

The core is plain Python. `python -m fairshare.corebuild` (run by `make`) compiles its modules with mypyc into a
cache folder named by a hash of every source file here, the Python version and the mypyc version. On import,
`fairshare.core` puts that folder first on its `__path__` only when a build with exactly that hash exists, so an
edited source can never run stale compiled code: it simply runs as Python until the next build.

`FAIRSHARE_CORE_COMPILED=0` forces the Python sources; `=1` makes a missing build an ImportError instead.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Not compiled: this loader and the package's __init__ (they run before any compiled module can).
INTERPRETED = frozenset({"__init__", "compiled"})


def sources() -> list[Path]:
    """The core's Python modules, in a fixed order."""
    return sorted(HERE.glob("*.py"))


def build_key() -> str:
    """Hash of everything a compiled build depends on: the sources, the interpreter, mypyc's version."""
    digest = hashlib.sha256()
    digest.update(f"{sys.implementation.cache_tag}|{sys.version}|{_mypyc_version()}".encode())
    for path in sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _mypyc_version() -> str:
    try:
        from importlib.metadata import version
        return version("mypy")
    except Exception:  # no mypy installed: nothing can be built, and nothing built elsewhere is trusted
        return "none"


def cache_root() -> Path:
    """$FAIRSHARE_CACHE/core-compiled (default ~/.cache/fairshare/core-compiled): outside the repository."""
    base = os.environ.get("FAIRSHARE_CACHE") or str(Path.home() / ".cache" / "fairshare")
    return Path(base) / "core-compiled"


def build_dir(key: str | None = None) -> Path:
    """The folder a build with this key (default: the current sources') lives in."""
    return cache_root() / (key or build_key())


def activate(package_path: list[str]) -> Path | None:
    """Put a matching compiled build in front of `package_path` (the package's __path__); returns its folder."""
    mode = os.environ.get("FAIRSHARE_CORE_COMPILED", "auto")
    if mode == "0":
        return None
    folder = build_dir()
    if not (folder / "complete").is_file():
        if mode == "1":
            raise ImportError(f"FAIRSHARE_CORE_COMPILED=1 but no compiled core at {folder}: "
                              "run `python -m fairshare.corebuild` (or `make core`), or unset the variable")
        return None
    runtime = str(folder / "runtime")  # mypyc's shared support module for the group
    if runtime not in sys.path:
        sys.path.append(runtime)
    package_path.insert(0, str(folder / "core"))
    return folder
