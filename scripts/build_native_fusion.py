"""Compile fusion's association core with mypyc (optional; about 2.5 times the fuser's speed, identical decisions).

    python scripts/build_native_fusion.py            # build: extension modules beside the sources
    python scripts/build_native_fusion.py --remove   # back to the interpreted sources

The modules of ``truceline.fuse.native.MODULES`` are compiled from their sources (written to compile well:
precise types, ``Final`` constants, no local aliases of functions in hot loops; mypyc ships with mypy, a test
dependency, and needs a C compiler and Python's headers). A failed build leaves nothing behind. The
extensions land in ``src/truceline/fuse/`` (not committed: ``*.so`` is ignored), with ``_native_build.json`` recording the SHA-256 of each source, so
that importing ``truceline.fuse`` refuses a build older than its sources instead of running old code.
Takes 35–75 s on two cores. Check it with ``pytest tests/test_fuse_differential.py``, which then runs
the compiled code, and see ``truceline.fuse.native.compiled()``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
FUSE = SRC / "truceline" / "fuse"
GROUP = "truceline_fuse_native"  # the shared library of the build: src/truceline_fuse_native__mypyc*.so


def _modules() -> tuple[str, ...]:
    # Read MODULES without importing truceline.fuse (whose build check would refuse a stale build).
    namespace: dict[str, object] = {"__file__": str(FUSE / "native.py"), "__name__": "truceline_fuse_native_modules"}
    exec(compile((FUSE / "native.py").read_text(encoding="utf-8"), "native.py", "exec"), namespace)
    modules = namespace["MODULES"]
    assert isinstance(modules, tuple)
    return modules


def remove() -> list[Path]:
    """Delete the build's extensions, shared library and record; return what was deleted."""
    gone = built()
    for path in gone:
        path.unlink()
    return gone


def build() -> list[Path]:
    """Compile the modules in place and record their sources' digests; return the files written."""
    from mypyc.build import mypycify
    from setuptools import setup

    remove()
    names = _modules()
    paths = [f"truceline/fuse/{name}.py" for name in names]
    digests = {}
    for name in names:
        digests[name] = hashlib.sha256((FUSE / f"{name}.py").read_bytes()).hexdigest()
    with tempfile.TemporaryDirectory(prefix="truceline-mypyc-") as tmp:
        cwd = os.getcwd()
        os.chdir(SRC)
        try:
            extensions = mypycify(paths, opt_level="3", group_name=GROUP, target_dir=str(Path(tmp) / "c"))
            setup(
                name="truceline-native-fusion",
                ext_modules=extensions,
                script_args=["build_ext", "--inplace", "--build-temp", str(Path(tmp) / "temp"), "--build-lib", str(Path(tmp) / "lib")],
            )
        except BaseException:
            remove()  # no half build (extensions without the record would be refused at import)
            raise
        finally:
            os.chdir(cwd)
    if any(digests[name] != hashlib.sha256((FUSE / f"{name}.py").read_bytes()).hexdigest() for name in names):
        remove()
        raise SystemExit("a source changed during the build; nothing installed, build again")
    (FUSE / "_native_build.json").write_text(json.dumps(digests, indent=1) + "\n", encoding="utf-8")
    return built()


def built() -> list[Path]:
    """The files of the build present now: extensions, shared library, record."""
    candidates = [FUSE / f"{name}{suffix}" for name in _modules() for suffix in EXTENSION_SUFFIXES]
    candidates += [p for p in SRC.iterdir() if p.name.startswith(f"{GROUP}__mypyc")]
    candidates.append(FUSE / "_native_build.json")
    return [path for path in candidates if path.exists()]


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
