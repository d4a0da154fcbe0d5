"""The grid cell of a point (store/grid.py) stays the cell the stored rows were indexed by."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from truceline.store.grid import COLUMNS, ROWS, grid_cell


def _cell(lat: float, lon: float) -> int:
    """The formula the rows were written with (integer floors, the last row and column closed)."""
    row = min(int(math.floor((lat + 90.0) / 0.05)), ROWS - 1)
    return row * COLUMNS + min(int(math.floor((lon + 180.0) / 0.05)), COLUMNS - 1)


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_cells_are_the_formulas(lat: float, lon: float) -> None:
    cell = grid_cell(lat, lon)
    assert type(cell) is int and cell == _cell(lat, lon)


def test_edges_and_numpy_values() -> None:
    for lat, lon in [(-90.0, -180.0), (90.0, 180.0), (-0.0, -0.0), (89.99999999, 179.99999999), (0.05, 0.1), (-89.95, 37)]:
        assert grid_cell(lat, lon) == _cell(lat, lon)
        cell = grid_cell(np.float64(lat), np.float32(lon))  # type: ignore[arg-type]
        assert type(cell) is int and cell == _cell(np.float64(lat), np.float32(lon))  # type: ignore[arg-type]
