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
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
FUSE = SRC / "truceline" / "fuse"
GROUP = "truceline_fuse_native"  # the shared library of the build: src/truceline_fuse_native__mypyc*.so
RECORD = "_native_build.json"


def _modules() -> tuple[str, ...]:
    # Read MODULES without importing truceline.fuse (whose engine choice would warn about a stale build).
    namespace: dict[str, object] = {"__file__": str(FUSE / "native.py"), "__name__": "truceline_fuse_native_modules"}
    exec(compile((FUSE / "native.py").read_text(encoding="utf-8"), "native.py", "exec"), namespace)
    modules = namespace["MODULES"]
    assert isinstance(modules, tuple)
    return modules


def built() -> list[Path]:
    """The files of the build present now: extensions, shared library, record."""
    candidates = [FUSE / f"{name}{suffix}" for name in _modules() for suffix in EXTENSION_SUFFIXES]
    candidates += [p for p in SRC.iterdir() if p.name.startswith(f"{GROUP}__mypyc")]
    candidates.append(FUSE / RECORD)
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
    if not (FUSE / RECORD).exists():
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
    print(f"built {', '.join(_modules())} in {FUSE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
