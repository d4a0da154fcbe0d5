"""The association core compiled with mypyc: which modules run compiled, and the interpreted sources as fallback.

``pip install`` compiles fusion's hot modules (:data:`MODULES`, the same ``.py`` files, written to compile well:
precise types, ``Final`` constants, no starred calls or local function aliases in hot paths) into extension
modules beside them (``setup.py``; ``scripts/build_native_fusion.py`` rebuilds them in place), which Python then
imports instead of the sources: the fuser runs about twice as fast with identical decisions
(docs/performance.md; tests/test_fuse_differential.py holds either way). Without a compiler, or with
``TRUCELINE_NATIVE_FUSION=0`` at install, everything runs interpreted.

An extension built from an older source would silently run the old code (an edited checkout), so each build
records the SHA-256 of the sources it compiled; when any compiled module's source has changed since, importing
:mod:`truceline.fuse` warns and runs all of :data:`MODULES` from their sources (compiled and interpreted
modules are never mixed: compiled ones call each other natively). ``TRUCELINE_FUSION_ENGINE=interpreted``
asks for the sources explicitly (tests compare the two engines so).

This module imports nothing of truceline: ``setup.py`` loads it by path, where truceline's dependencies are absent.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

#: The modules the build compiles (``truceline.fuse.<name>``): the association engine and what it calls per observation.
MODULES = ("bearings", "clock", "corroboration", "fuser", "index", "measurement", "pending", "snapshot", "state")
#: The build's record of its sources, beside them: ``{"module": "sha256 of its .py"}``.
RECORD = "_native_build.json"
#: The shared library of the build (``truceline_fuse_native__mypyc*.so``, top level of the package root).
GROUP = "truceline_fuse_native"
#: Environment variable: ``interpreted`` runs the sources even where a current build exists.
ENGINE_ENV = "TRUCELINE_FUSION_ENGINE"
#: mypy options of the build: modules that are imported but not compiled are read for their types only (their own
#: findings are CI's mypy run's business, and a build environment lacks their libraries' stubs).
MYPY_FLAGS = ("--follow-imports=silent",)

_HERE = Path(__file__).resolve().parent


def source_digest(path: Path) -> str:
    """SHA-256 of a source file, as the build records it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_digests(directory: Path = _HERE) -> dict[str, str]:
    """The record a build of the sources in ``directory`` writes."""
    return {name: source_digest(directory / f"{name}.py") for name in MODULES}


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


class _Sources(importlib.abc.MetaPathFinder):
    """Finds :data:`MODULES` as their ``.py`` sources, ahead of the extension modules beside them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __package__ or name not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, self.directory / f"{name}.py")


#: Why this process runs the core interpreted ("" when compiled), as :func:`select_engine` decided.
interpreted_because = ""


def select_engine(directory: Path = _HERE) -> str:
    """Decide, before any of :data:`MODULES` is imported, whether they run compiled; returns why not, or ""."""
    global interpreted_because
    if any(isinstance(finder, _Sources) for finder in sys.meta_path):
        return "sources already selected"
    built = built_modules(directory)
    if not built:
        interpreted_because = "no build: pip install -e . with a C compiler, or scripts/build_native_fusion.py"
        return "no build"
    reason = ""
    if os.environ.get(ENGINE_ENV, "") == "interpreted":
        reason = f"{ENGINE_ENV}=interpreted"
    else:
        stale = stale_modules(directory)
        if stale:
            reason = f"compiled module(s) {', '.join(stale)} built from other sources than the .py beside them"
            warnings.warn(
                f"truceline.fuse: {reason}; running the interpreted sources (rebuild: `pip install -e .` or "
                "`python scripts/build_native_fusion.py`)",
                RuntimeWarning,
                stacklevel=2,
            )
        elif len(built) < len(MODULES):
            reason = f"an incomplete build ({', '.join(built)})"
    if reason:
        sys.meta_path.insert(0, _Sources(directory))
    interpreted_because = reason
    return reason


def compiled() -> list[str]:
    """The modules of :data:`MODULES` that this process runs compiled (imported from an extension)."""
    out = []
    for name in MODULES:
        module = sys.modules.get(f"truceline.fuse.{name}")
        if module is not None and not str(getattr(module, "__file__", "")).endswith(".py"):
            out.append(name)
    return out
