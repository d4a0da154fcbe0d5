"""The mypyc build of fusion's core (fuse/native.py): run compiled only where the build matches its sources."""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
import warnings
from importlib.machinery import EXTENSION_SUFFIXES
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from truceline.fuse import native

_ENGINE_AT_IMPORT = os.environ.get(native.ENGINE_ENV)  # what the package saw when it chose its engine


@pytest.fixture(autouse=True)
def _own_meta_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A finder a test installs is gone after it; the engine variable is unset unless a test sets it."""
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delenv(native.ENGINE_ENV, raising=False)


def _package(tmp_path: Path, record: object | None, built: tuple[str, ...] = native.MODULES) -> Path:
    for name in native.MODULES:
        (tmp_path / f"{name}.py").write_text(f"NAME = {name!r}\n", encoding="utf-8")
    for name in built:
        (tmp_path / f"{name}{EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF")
    if record == "current":
        record = native.source_digests(tmp_path)
    if record is not None:
        (tmp_path / native.RECORD).write_text(json.dumps(record), encoding="utf-8")
    return tmp_path


def _finder_spec(name: str) -> str | None:
    for finder in sys.meta_path:
        if isinstance(finder, native._Sources):
            spec = finder.find_spec(f"truceline.fuse.{name}", None)
            return None if spec is None else spec.origin
    return None


def test_a_build_of_the_current_sources_runs_compiled(tmp_path: Path) -> None:
    directory = _package(tmp_path, "current")
    assert native.built_modules(directory) == list(native.MODULES)
    assert native.stale_modules(directory) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.select_engine(directory) == ""
    assert _finder_spec("state") is None


@pytest.mark.parametrize("record", [None, {"state": "0" * 64}, {}, ["state"]], ids=["no-record", "other-source", "unrecorded", "not-a-map"])
def test_a_stale_build_warns_and_runs_the_sources(tmp_path: Path, record: object) -> None:
    directory = _package(tmp_path, record)
    if isinstance(record, dict) and record:  # only state's digest is wrong: the others are recorded as they are
        current = native.source_digests(directory)
        (directory / native.RECORD).write_text(json.dumps({**current, **record}), encoding="utf-8")
        assert native.stale_modules(directory) == ["state"]
    with pytest.warns(RuntimeWarning, match=r"compiled module\(s\) .*state.* running the interpreted sources"):
        reason = native.select_engine(directory)
    assert "state" in reason
    # every module of the core from its source, not only the stale one: compiled modules call each other natively
    assert _finder_spec("state") == str(directory / "state.py")
    assert _finder_spec("fuser") == str(directory / "fuser.py")
    assert native._Sources(directory).find_spec("truceline.store.sqlite", None) is None


def test_the_source_edited_after_the_build_is_stale(tmp_path: Path) -> None:
    directory = _package(tmp_path, "current")
    (directory / "state.py").write_text("NAME = 'edited'\n", encoding="utf-8")
    assert native.stale_modules(directory) == ["state"]


def test_the_sources_can_be_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _package(tmp_path, "current")
    monkeypatch.setenv(native.ENGINE_ENV, "interpreted")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.select_engine(directory) == f"{native.ENGINE_ENV}=interpreted"
    assert _finder_spec("index") == str(directory / "index.py")


def test_an_incomplete_build_runs_the_sources(tmp_path: Path) -> None:
    directory = _package(tmp_path, "current", built=("state", "index"))
    assert "incomplete" in native.select_engine(directory)
    assert _finder_spec("fuser") == str(directory / "fuser.py")


def test_without_a_build_nothing_is_checked_or_compiled(tmp_path: Path) -> None:
    (tmp_path / "state.py").write_text("X = 1\n", encoding="utf-8")
    assert native.built_modules(tmp_path) == [] and native.stale_modules(tmp_path) == []
    assert native.select_engine(tmp_path) == "no build"
    assert _finder_spec("state") is None


def test_this_process_runs_what_is_built() -> None:
    """Compiled exactly where this checkout has a current build: what the differential test then checks."""
    import truceline.fuse.fuser  # noqa: F401 - imports every compiled module

    expected = [] if _ENGINE_AT_IMPORT == "interpreted" or native.stale_modules() else native.built_modules()
    assert native.compiled() == expected


def _installed_here_with_a_compiler() -> bool:
    """pip installed this very checkout (editable) where a C compiler exists and the build was not declined."""
    try:
        url = json.loads(distribution("truceline").read_text("direct_url.json") or "{}").get("url", "")
    except PackageNotFoundError:
        return False
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    here = Path(__file__).resolve().parent.parent
    return url == here.as_uri() and shutil.which(compiler) is not None and os.environ.get("TRUCELINE_NATIVE_FUSION", "1") != "0"


def test_an_install_with_a_compiler_compiled_the_core() -> None:
    """CI installs this checkout with a compiler: a build that failed (a mypyc finding, a missing build tool) falls
    back to the sources quietly, so it must fail here instead of passing unseen."""
    if not _installed_here_with_a_compiler():
        pytest.skip("not a pip install of this checkout with a C compiler (e.g. PYTHONPATH=src)")
    assert native.built_modules() == list(native.MODULES), "pip install -e . did not compile the fusion core; see its output"
    import truceline.fuse.fuser  # noqa: F401 - imports every compiled module

    # A build older than its sources (an edited checkout) runs the sources instead; a current one runs compiled.
    asked = _ENGINE_AT_IMPORT == "interpreted" or native.stale_modules()
    assert native.compiled() == ([] if asked else list(native.MODULES))
