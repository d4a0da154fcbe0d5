"""Loading a script of the checkout (a bench, a vector maker) as a module, for tests of its parts."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(path: Path, name: str) -> ModuleType:
    """The module of the Python file ``path`` (not a package member: bench/ and tests/vectors/ are folders
    of scripts), executed once under ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
