"""Rebuild (or remove) fusion's compiled core in place: what ``pip install -e .`` builds, after an edit.

    python scripts/build_native_fusion.py            # build: extension modules beside the sources
    python scripts/build_native_fusion.py --remove   # back to the interpreted sources

``pip install`` compiles the modules of ``truceline.fuse.native.MODULES`` with mypyc (setup.py). An edited
module makes that build stale: ``truceline.fuse`` then warns and runs every module of the core interpreted
until this script (or a new ``pip install -e .``) rebuilds it. Needs mypy (a test dependency), numpy, a C
compiler and Python's headers; takes 30–75 s on two cores. A failed build leaves nothing behind. Check it with
``pytest tests/test_fuse_differential.py`` and see ``truceline.fuse.native.compiled()``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
FUSE = SRC / "truceline" / "fuse"


def _native() -> ModuleType:
    """fuse/native.py by path, as setup.py loads it: importing truceline.fuse would warn about a stale build."""
    spec = importlib.util.spec_from_file_location("truceline_fuse_native_build", FUSE / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def built() -> list[Path]:
    """The files of the build present now: extensions, shared library, record."""
    native = _native()
    candidates = [FUSE / f"{name}{suffix}" for name in native.MODULES for suffix in EXTENSION_SUFFIXES]
    candidates += [p for p in SRC.iterdir() if p.name.startswith(f"{native.GROUP}__mypyc")]
    candidates.append(FUSE / native.RECORD)
    return [path for path in candidates if path.exists()]


def remove() -> list[Path]:
    """Delete the build's extensions, shared library and record; return what was deleted."""
    gone = built()
    for path in gone:
        path.unlink()
    return gone


def build() -> list[Path]:
    """Compile in place through setup.py (the same build as ``pip install``); return the files written."""
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 77:
        raise SystemExit(f"setuptools {setuptools.__version__} cannot read pyproject.toml's ext-modules: pip install 'setuptools>=77'")
    remove()
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT, check=True)
    files = built()
    if not (FUSE / _native().RECORD).exists():
        remove()
        raise SystemExit("the fusion core was not compiled (see the messages above); it runs interpreted")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--remove", action="store_true", help="delete a build (the interpreted sources run again)")
    args = parser.parse_args(argv)
    if args.remove:
        for path in remove():
            print(f"removed {path}")
        return 0
    build()
    print(f"built {', '.join(_native().MODULES)} in {FUSE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
