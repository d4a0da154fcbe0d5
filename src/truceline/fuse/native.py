"""The association core compiled with mypyc, when built: which modules run compiled, and a guard against stale builds.

``scripts/build_native_fusion.py`` compiles fusion's hot modules (:data:`MODULES`, the same ``.py`` files,
written to compile well: precise types, ``Final`` constants, no starred calls or local function aliases in hot
paths) into extension modules beside them, which Python then imports instead of the sources: the fuser runs
about 2.5 times as fast with identical decisions (docs/performance.md; tests/test_fuse_differential.py holds
either way). An extension built from an older source would silently run the old code, so each build
records the SHA-256 of the sources it compiled, and importing :mod:`truceline.fuse` refuses a compiled
module whose source has changed since. Without a build everything runs interpreted, as in CI.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

#: The modules the build compiles (``truceline.fuse.<name>``): the association engine and what it calls per observation.
MODULES = ("bearings", "clock", "corroboration", "fuser", "index", "measurement", "pending", "snapshot", "state")
#: The build's record of its sources, beside them: ``{"module": "sha256 of its .py"}``.
RECORD = "_native_build.json"

_HERE = Path(__file__).resolve().parent


def source_digest(path: Path) -> str:
    """SHA-256 of a source file, as the build records it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def built_modules(directory: Path = _HERE) -> list[str]:
    """The modules of :data:`MODULES` that have a compiled extension in ``directory``."""
    return [name for name in MODULES if any((directory / f"{name}{suffix}").exists() for suffix in EXTENSION_SUFFIXES)]


def stale_modules(directory: Path = _HERE) -> list[str]:
    """Compiled modules in ``directory`` whose ``.py`` is not the one the build recorded (or with no record)."""
    built = built_modules(directory)
    if not built:
        return []
    try:
        record = json.loads((directory / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return built
    if not isinstance(record, dict):
        return built
    return [name for name in built if record.get(name) != source_digest(directory / f"{name}.py")]


def check_build(directory: Path = _HERE) -> None:
    """Raise ImportError if a compiled module would run other code than its source says."""
    stale = stale_modules(directory)
    if stale:
        raise ImportError(
            f"truceline.fuse: compiled module(s) {', '.join(stale)} in {directory} were built from other sources than "
            "the .py beside them; rebuild with `python scripts/build_native_fusion.py` or remove them with "
            "`python scripts/build_native_fusion.py --remove`"
        )


def compiled() -> list[str]:
    """The modules of :data:`MODULES` that this process runs compiled (imported from an extension)."""
    out = []
    for name in MODULES:
        module = sys.modules.get(f"truceline.fuse.{name}")
        if module is not None and not str(getattr(module, "__file__", "")).endswith(".py"):
            out.append(name)
    return out
