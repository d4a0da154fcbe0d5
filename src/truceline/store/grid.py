"""A latitude/longitude grid as a spatial index for stores whose engine has no cheap one.

Each point gets the integer id of its 0.05° cell (row-major: ``row * COLUMNS + column``), kept in a plain
B-tree index. A bounding box becomes one id range per grid row it spans (cells of a row are contiguous),
or, for tall boxes, a few full-width bands: the index narrows the search, an exact lat/lon test decides.
"""

from __future__ import annotations

import math

from truceline.store.ports import BBox

CELL_DEG = 0.05
COLUMNS = int(round(360 / CELL_DEG)) + 1
ROWS = int(round(180 / CELL_DEG)) + 1
#: Above this many grid rows a box is searched by whole rows (bands), keeping the query small.
MAX_RANGES = 256
LAST_ROW = ROWS - 1
LAST_COLUMN = COLUMNS - 1
_floor = math.floor


def _row(lat: float) -> int:
    return min(_floor((lat + 90.0) / CELL_DEG), LAST_ROW)  # floor of a float is already an int


def _column(lon: float) -> int:
    return min(_floor((lon + 180.0) / CELL_DEG), LAST_COLUMN)


def grid_cell(lat: float, lon: float) -> int:
    """The cell id of a point."""
    return _row(lat) * COLUMNS + _column(lon)


def cell_ranges(bbox: BBox) -> list[tuple[int, int]]:
    """Inclusive cell-id ranges that together cover the box (antimeridian-crossing boxes included)."""
    first_row, last_row = _row(bbox.min_lat), _row(bbox.max_lat)
    column_spans = [(_column(lo), _column(hi)) for lo, hi in bbox.lon_ranges()]
    if (last_row - first_row + 1) * len(column_spans) > MAX_RANGES:
        return [(first_row * COLUMNS, (last_row + 1) * COLUMNS - 1)]
    return [(row * COLUMNS + c0, row * COLUMNS + c1) for row in range(first_row, last_row + 1) for c0, c1 in column_spans]


def bbox_condition(bbox: BBox, table: str = "") -> tuple[str, list[float]]:
    """The exact test of a point's ``lat``/``lon`` columns against the box, as SQL and its parameters.

    ``table`` qualifies the columns (``"o."``); a box crossing the antimeridian tests two longitude ranges.
    """
    ranges = bbox.lon_ranges()
    lon_terms = " OR ".join(f"({table}lon BETWEEN ? AND ?)" for _ in ranges)
    return f"{table}lat BETWEEN ? AND ? AND ({lon_terms})", [bbox.min_lat, bbox.max_lat, *(x for r in ranges for x in r)]
