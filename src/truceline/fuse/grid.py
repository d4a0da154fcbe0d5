"""The space-time grid fusion uses: the C twin (``_grid.c``) when it is built, else the Python reference.

Both give the same results in the same order (tests/test_fuse_grid.py), so fusion decides the same either
way; the C one spends no Python object per cell, about a third of the fuser's time interpreted
(docs/performance.md). The extension is optional, like the other three: without a compiler the package
installs and runs on :class:`~truceline.fuse.index.PySpaceTimeIndex`. ``TRUCELINE_GRID=python`` (read once, at
import) forces the reference, to compare; tests swap :data:`SpaceTimeIndex` instead.

The fuser holds its grids as :class:`Grid`, a Protocol, not as either class: compiled with mypyc
(fuse/native.py), an attribute typed as the compiled Python class would refuse the C object.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Hashable
from typing import Protocol, TypeVar

from truceline.fuse.index import PySpaceTimeIndex

__all__ = ["Grid", "SpaceTimeIndex", "backend", "new_grid"]

T = TypeVar("T", bound=Hashable)


class Grid(Protocol[T]):
    """What the fuser calls on a grid (see :class:`~truceline.fuse.index.PySpaceTimeIndex`)."""

    def __len__(self) -> int: ...
    def __contains__(self, item: object) -> bool: ...
    def put(self, item: T, x: float, y: float, radius: float, t: float, half_width: float) -> None: ...
    def remove(self, item: T) -> None: ...
    def query(self, x: float, y: float, radius: float, t: float, half_width: float) -> list[T]: ...


def _select() -> type:
    if os.environ.get("TRUCELINE_GRID", "").strip().lower() == "python":
        return PySpaceTimeIndex
    try:
        grid = importlib.import_module("truceline.fuse._grid")  # built from _grid.c; no type stub
    except ImportError:
        return PySpaceTimeIndex
    cls = grid.SpaceTimeIndex
    assert isinstance(cls, type)
    return cls


#: The class :func:`new_grid` instantiates (the C twin when built).
SpaceTimeIndex: type = _select()


def new_grid() -> Grid[T]:
    """An empty grid of the selected implementation, with the default levels."""
    grid: Grid[T] = SpaceTimeIndex()
    return grid


def backend() -> str:
    """``"c"`` when :func:`new_grid` makes the C twin, ``"python"`` for the reference."""
    return "python" if SpaceTimeIndex is PySpaceTimeIndex else "c"
