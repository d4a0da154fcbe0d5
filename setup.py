"""Build hook: besides the C extensions declared in pyproject.toml, compile fusion's core with mypyc.

Every extension is optional: without a compiler, without mypy (a build requirement) or with
``TRUCELINE_NATIVE_FUSION=0`` the install still succeeds and fusion runs interpreted, with the same decisions
(src/truceline/fuse/native.py). A partial mypyc build is removed, so compiled and interpreted modules of the
core never mix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
FUSE = HERE / "src" / "truceline" / "fuse"


def _native() -> ModuleType:
    """truceline/fuse/native.py by path: importing truceline here would need its dependencies."""
    spec = importlib.util.spec_from_file_location("truceline_fuse_native_build", FUSE / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_mypyc(extension: Extension, native: ModuleType) -> bool:
    return extension.name.startswith(f"{native.GROUP}__mypyc") or extension.name in {f"truceline.fuse.{m}" for m in native.MODULES}


def mypyc_extensions(native: ModuleType) -> list[Extension]:
    """The core's mypyc extensions (C written to build/mypyc), each optional; none if mypyc cannot build them."""
    try:
        from mypyc.build import mypycify

        paths = [str((FUSE / f"{name}.py").relative_to(HERE)) for name in native.MODULES]
        flags = [*native.MYPY_FLAGS, "--cache-dir=build/mypyc-cache"]
        extensions = mypycify([*flags, *paths], opt_level="3", group_name=native.GROUP, target_dir="build/mypyc")
    except (Exception, SystemExit) as exc:  # mypy missing, or a finding: fusion stays interpreted
        print(f"truceline: fusion core not compiled (mypyc: {exc!r}); it runs interpreted", file=sys.stderr)
        return []
    for extension in extensions:
        extension.optional = True
    return list(extensions)


class BuildExt(build_ext):
    """``build_ext`` plus the optional mypyc build of ``truceline.fuse.native.MODULES``."""

    def finalize_options(self) -> None:
        # Added before setuptools finalises, so that its own bookkeeping covers them; once per distribution
        # (an editable install finalises build_ext more than once).
        native = _native()
        modules = list(self.distribution.ext_modules or [])
        self._mypyc = [ext for ext in modules if _is_mypyc(ext, native)]
        if not self._mypyc and os.environ.get("TRUCELINE_NATIVE_FUSION", "1") != "0":
            self._mypyc = mypyc_extensions(native)
            self.distribution.ext_modules = modules + self._mypyc
        super().finalize_options()

    def run(self) -> None:
        super().run()
        if self._mypyc:
            self._keep_whole(_native())

    def _outputs(self, inplace: bool) -> list[Path]:
        saved, self.inplace = self.inplace, inplace
        try:
            return [Path(self.get_ext_fullpath(extension.name)) for extension in self._mypyc]
        finally:
            self.inplace = saved

    def _keep_whole(self, native: ModuleType) -> None:
        """Record the sources of a complete build beside its modules; remove an incomplete build."""
        built, final = self._outputs(False), self._outputs(bool(self.inplace))
        if all(path.exists() for path in built + final):
            package = next(path.parent for path, ext in zip(final, self._mypyc, strict=True) if ext.name.startswith("truceline.fuse."))
            (package / native.RECORD).write_text(json.dumps(native.source_digests(FUSE), indent=1) + "\n", encoding="utf-8")
            return
        print("truceline: fusion core compiled only in part; removed, it runs interpreted", file=sys.stderr)
        for path in {*built, *final}:
            path.unlink(missing_ok=True)


setup(cmdclass={"build_ext": BuildExt})
