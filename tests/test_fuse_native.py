"""The optional mypyc build of fusion (fuse/native.py): a compiled module built from other sources is refused."""

from __future__ import annotations

import json
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from truceline.fuse import native


def _package(tmp_path: Path, record: object | None) -> Path:
    (tmp_path / "state.py").write_text("X = 1\n", encoding="utf-8")
    (tmp_path / "index.py").write_text("Y = 2\n", encoding="utf-8")
    (tmp_path / f"state{EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF")
    if record is not None:
        (tmp_path / native.RECORD).write_text(json.dumps(record), encoding="utf-8")
    return tmp_path


def test_a_build_of_the_current_sources_passes(tmp_path: Path) -> None:
    directory = _package(tmp_path, None)
    (directory / native.RECORD).write_text(json.dumps({"state": native.source_digest(directory / "state.py")}), encoding="utf-8")
    assert native.built_modules(directory) == ["state"]
    assert native.stale_modules(directory) == []
    native.check_build(directory)


@pytest.mark.parametrize("record", [None, {"state": "0" * 64}, {}, ["state"]], ids=["no-record", "other-source", "unrecorded", "not-a-map"])
def test_a_build_of_other_sources_is_refused(tmp_path: Path, record: object) -> None:
    directory = _package(tmp_path, record)
    assert native.stale_modules(directory) == ["state"]
    with pytest.raises(ImportError, match=r"compiled module\(s\) state .*build_native_fusion\.py --remove"):
        native.check_build(directory)


def test_the_source_edited_after_the_build_is_refused(tmp_path: Path) -> None:
    directory = _package(tmp_path, None)
    (directory / native.RECORD).write_text(json.dumps({"state": native.source_digest(directory / "state.py")}), encoding="utf-8")
    (directory / "state.py").write_text("X = 2\n", encoding="utf-8")
    assert native.stale_modules(directory) == ["state"]


def test_without_a_build_nothing_is_checked_or_compiled(tmp_path: Path) -> None:
    (tmp_path / "state.py").write_text("X = 1\n", encoding="utf-8")
    assert native.built_modules(tmp_path) == [] and native.stale_modules(tmp_path) == []


def test_this_process_runs_what_is_built() -> None:
    """Compiled exactly where this checkout has a build (none in CI): what the differential test then checks."""
    import truceline.fuse.fuser  # noqa: F401 - imports every compiled module

    assert native.compiled() == native.built_modules()
